"""A worker outlives its Redis broker restarting while it runs a task."""

from __future__ import annotations

from celery import Celery

from tasks.app import app
from tests.support.processes import Process, start_celery_worker, wait_for
from tests.support.web_server import free_port


def start_redis(port: int, log_dir) -> Process:
    """A Redis of the test's own (no persistence: restarted, it comes back empty)."""
    argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = Process(argv, {}, log_dir / f"redis-{port}.log")
    wait_for(lambda: "Ready to accept" in server.log_text(), 30, what="Redis to start")
    return server


def connected(worker: Process, times: int) -> None:
    """Wait until the worker (re)connected to its broker `times` times, or died."""
    wait_for(
        lambda: (
            worker.log_text().count("Connected to redis") >= times
            or worker.popen.poll() is not None
        ),
        60,
        what=lambda: f"the worker to connect\n{worker.log_text()}",
    )


def test_a_worker_survives_redis_restarting_while_it_runs_a_task(settings, log_dir, tmp_path):
    """Two slots, one running an unacknowledged task, the other waiting on the broker: the
    state in which a Redis restart used to stop the worker for good."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_server = start_redis(port, log_dir)
    env = settings.with_overrides(broker_url=url, result_backend=url).as_environ()
    worker = start_celery_worker(
        env,
        log_dir,
        queues="cpu",
        name="broker-loss",
        extra=["--include", "tests.tasks.broker_tasks"],
    )
    client = Celery("broker-loss-client", broker=url)
    client.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "global_keyprefix": settings.broker_key_prefix,
    }
    try:
        # A message sent before the worker declared its queue would have nowhere to go.
        connected(worker, 1)
        client.send_task(
            "tests.hold", args=(str(tmp_path / "a"), str(tmp_path / "go")), queue="cpu"
        )
        wait_for(
            lambda: (tmp_path / "a").exists(), 60, what=lambda: f"the task\n{worker.log_text()}"
        )
        redis_server.stop()
        redis_server = start_redis(port, log_dir)
        (tmp_path / "go").touch()  # the held task ends and acknowledges on the old connection
        connected(worker, 2)
        client.send_task(
            "tests.hold", args=(str(tmp_path / "b"), str(tmp_path / "go")), queue="cpu"
        )
        wait_for(
            lambda: (tmp_path / "b").exists() or worker.popen.poll() is not None,
            60,
            what=lambda: f"a task after the restart\n{worker.log_text()}",
        )
        assert worker.popen.poll() is None, worker.log_text()[-3000:]
        assert (tmp_path / "b").exists()
        assert "Unrecoverable error" not in worker.log_text()
    finally:
        worker.stop()
        redis_server.stop()
