"""The sink as a real process: killed, Redis flushed or restarted, Postgres connections cut."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from shared.db import db
from shared.progress import SINK_GROUP, ProgressBus, active_jobs, events_key
from tests.support.processes import wait_for
from tests.workers.progress_sink.harness import read_rows, set_status

GPU = {"inputs": {"steps": 20, "frames": 1}}


def publish_steps(
    bus: ProgressBus, job_id: int, stage_id: int, stage: str, steps: range, total: int = 20
) -> None:
    for step in steps:
        bus.stage_event(
            job_id,
            stage_id=stage_id,
            stage=stage,
            status="running",
            step=step,
            max=total,
            node="3",
            progress=step / total,
        )


def stage_step(app, job_id: int, index: int) -> int:
    return read_rows(app, job_id)[1][index]["step"]


def finish_job(app, bus: ProgressBus, job_id: int, stage_ids: list[int]) -> None:
    """What the pipeline's tasks do at the end: terminal rows in Postgres, then the event."""
    for stage_id in stage_ids:
        set_status(app, "stage_runs", stage_id, "succeeded", progress=1.0, step=20, step_max=20)
    set_status(app, "jobs", job_id, "succeeded", progress=1.0, eta_s=0)
    bus.job_event(job_id, status="succeeded", progress=1.0, eta_s=0)


def assert_rows_end_right(app, job_id: int, steps: list[int]) -> None:
    job, stages = read_rows(app, job_id)
    assert (job["status"], job["progress"]) == ("succeeded", 1.0)
    assert [s["status"] for s in stages] == ["succeeded"] * len(stages)
    assert [s["step"] for s in stages] == steps
    assert [s["progress"] for s in stages] == [1.0] * len(stages)


def test_sink_killed_mid_job_restarts_and_catches_up(app, bus, client, make_job, sinks):
    job_id, (key, anim) = make_job([{"stage": "keyframe", **GPU}, {"stage": "animate", **GPU}])
    # A long coalescing window keeps entries delivered but unacknowledged when the kill comes.
    sink = sinks(consumer="sink-kill", min_interval=30.0)
    wait_for(lambda: "progress sink started" in sink.log_text(), 20, what="sink start")
    # One step first: two could reach the sink in two reads, the second held for the window.
    publish_steps(bus, job_id, key, "keyframe", range(1, 2))
    wait_for(lambda: stage_step(app, job_id, 0) == 1, 10, what="first write")
    publish_steps(bus, job_id, key, "keyframe", range(2, 11))
    wait_for(
        lambda: client.xpending(events_key(job_id), SINK_GROUP)["pending"] >= 8,
        10,
        what="entries held by the sink",
    )
    sink.kill()

    publish_steps(bus, job_id, key, "keyframe", range(11, 21))
    publish_steps(bus, job_id, anim, "animate", range(1, 9))
    assert stage_step(app, job_id, 0) == 1
    sinks(consumer="sink-kill", min_interval=0.1)
    wait_for(
        lambda: (stage_step(app, job_id, 0), stage_step(app, job_id, 1)) == (20, 8),
        20,
        what="catch-up after restart",
    )

    publish_steps(bus, job_id, anim, "animate", range(9, 21))
    finish_job(app, bus, job_id, [key, anim])
    wait_for(lambda: job_id not in active_jobs(client), 10, what="job retired")
    assert client.xpending(events_key(job_id), SINK_GROUP)["pending"] == 0
    assert_rows_end_right(app, job_id, [20, 20])


def test_redis_flushed_mid_job_rows_still_end_right(app, bus, client, make_job, sinks):
    job_id, (key, anim) = make_job([{"stage": "keyframe", **GPU}, {"stage": "animate", **GPU}])
    sink = sinks(consumer="sink-flush", min_interval=0.1)
    publish_steps(bus, job_id, key, "keyframe", range(1, 11))
    wait_for(lambda: stage_step(app, job_id, 0) == 10, 20, what="rows before the flush")

    client.flushdb()
    publish_steps(bus, job_id, key, "keyframe", range(11, 21))
    publish_steps(bus, job_id, anim, "animate", range(1, 6))
    wait_for(
        lambda: (stage_step(app, job_id, 0), stage_step(app, job_id, 1)) == (20, 5),
        20,
        what="rows after the flush",
    )
    # Redis loses everything again just before the end: the tasks' rows still finish the job.
    client.flushdb()
    finish_job(app, bus, job_id, [key, anim])
    wait_for(lambda: job_id not in active_jobs(client), 10, what="job retired")
    assert_rows_end_right(app, job_id, [20, 20])
    assert sink.popen.poll() is None, sink.log_text()


@pytest.fixture
def private_redis(tmp_path: Path):
    """A Redis server of this test's own (no persistence), so the test may kill it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    servers: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(server)
        probe = redis.Redis(port=port, socket_timeout=1)
        wait_for(lambda: _pings(probe), 10, what="redis-server start")
        return server

    start()
    yield port, start, servers
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait(5)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_sink_survives_a_redis_restart(app, psettings, make_job, log_dir, private_redis):
    from tests.workers.progress_sink.harness import start_sink

    port, start_redis, servers = private_redis
    local = psettings.with_overrides(redis_url=f"redis://127.0.0.1:{port}/0")
    bus = ProgressBus.from_url(local.redis_url)
    job_id, (key,) = make_job([{"stage": "keyframe", **GPU}])
    sink = start_sink(local, log_dir, consumer="sink-restart", min_interval=0.1)
    try:
        publish_steps(bus, job_id, key, "keyframe", range(1, 6))
        wait_for(lambda: stage_step(app, job_id, 0) == 5, 20, what="rows before the restart")
        servers[-1].kill()
        servers[-1].wait(5)
        # Publishing while Redis is down costs one short timeout and never raises.
        started = time.monotonic()
        publish_steps(bus, job_id, key, "keyframe", range(6, 9))
        assert time.monotonic() - started < 10  # one short timeout, never a hang
        start_redis()
        # The bus skips publishing for a while after a failed publish: wait until it lands.
        wait_for(
            lambda: bus.stage_event(
                job_id,
                stage_id=key,
                stage="keyframe",
                status="running",
                step=9,
                max=20,
                node="3",
                progress=0.45,
            ),
            20,
            what="publishing to work again",
        )
        publish_steps(bus, job_id, key, "keyframe", range(10, 13))
        wait_for(lambda: stage_step(app, job_id, 0) == 12, 20, what="rows after the restart")
        assert sink.popen.poll() is None
    finally:
        sink.stop()


def test_sink_survives_cut_postgres_connections(app, bus, client, make_job, sinks):
    job_id, (key,) = make_job([{"stage": "keyframe", **GPU}])
    sinks(consumer="sink-pg", min_interval=0.1)
    publish_steps(bus, job_id, key, "keyframe", range(1, 4))
    wait_for(lambda: stage_step(app, job_id, 0) == 3, 20, what="rows before the cut")
    with app.app_context():
        cut = db.session.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
        db.session.remove()
    assert cut >= 1
    publish_steps(bus, job_id, key, "keyframe", range(4, 8))
    wait_for(lambda: stage_step(app, job_id, 0) == 7, 20, what="rows after the cut")
