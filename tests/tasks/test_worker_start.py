"""A GPU worker that would not consume its own node queue refuses to start."""

from __future__ import annotations

from tests.support.processes import start_celery_worker, wait_for


def test_a_gpu_worker_without_its_node_queue_refuses_to_start(settings, log_dir):
    env = settings.with_overrides(worker_node="vm", comfyui_url="http://127.0.0.1:9")
    worker = start_celery_worker(env.as_environ(), log_dir, queues="gpu,gpu.node1", name="misnamed")
    try:
        code = wait_for(
            lambda: worker.popen.poll() is not None and (worker.popen.returncode,),
            60,
            what=lambda: f"the worker to refuse\n{worker.log_text()}",
        )
    finally:
        worker.stop()
    assert code == (1,)
    log = worker.log_text()
    assert "does not consume its queue gpu.vm" in log and "Traceback" not in log
