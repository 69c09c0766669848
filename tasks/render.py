"""The render tasks, one per stage of the registry (shared/stages.py): thin adapters that carry
ids only (stage run, canvas generation) into a GPU or CPU delivery (tasks.base)."""

from __future__ import annotations

from typing import Any

from celery import Task

from shared.db import transaction
from shared.models import Status
from shared.stages import STAGES, StageKind
from tasks.app import app
from tasks.context import worker_context
from tasks.cpu_flow import CpuDelivery
from tasks.gpu_flow import GpuDelivery
from tasks.pipeline.recording import finish_job


def register(kind: StageKind) -> Task:
    """The stage's task: its name, queue and time limits from the registry, and no Celery retry
    cap (Celery counts every re-route, wait and backoff of a message as a retry, and each of
    those has its own bound: attempts, NODE_WAIT_S, re-routes, the holder's time limit)."""

    # job_id, stage, scene and backend label the message for Flower (tasks.labels); the
    # delivery reads the rows, and sends the labels on with any retry.
    def run(
        self: Task,
        stage_run_id: int,
        generation: int,
        reroutes: int = 0,
        job_id: int | None = None,
        stage: str | None = None,
        scene: int | None = None,
        backend: str | None = None,
    ) -> dict[str, Any]:
        if kind.is_gpu:
            return GpuDelivery(self, stage_run_id, generation, reroutes).run()
        return CpuDelivery(self, stage_run_id, generation).run()

    run.__name__ = run.__qualname__ = kind.name
    run.__doc__ = kind.description
    return app.task(
        name=kind.task_name,
        bind=True,
        queue=kind.queue.value,
        soft_time_limit=kind.soft_limit_s,
        time_limit=kind.hard_limit_s,
        max_retries=None,
    )(run)


STAGE_TASKS: dict[str, Task] = {kind.name: register(kind) for kind in STAGES}


@app.task(name="render.finish", queue="control", soft_time_limit=30, time_limit=60)
def finish(job_id: int, generation: int) -> str | None:
    """Close the job once every stage succeeded."""
    ctx = worker_context()
    status = transaction(ctx.engine, lambda session: finish_job(session, job_id, generation))
    if status is Status.SUCCEEDED:
        ctx.bus.job_event(job_id, status=status.value, progress=1.0, eta_s=0.0)
    return status.value if status else None
