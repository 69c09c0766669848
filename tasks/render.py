"""The render tasks: thin adapters that carry ids only (stage run, canvas generation).

Their behaviour is stated in the decorators; the work is in tasks.gpu_flow / tasks.cpu_flow
around plain functions in workers/.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shared.limits import STAGE_TIME_LIMITS
from shared.models import Status
from tasks.app import app
from tasks.context import worker_context
from tasks.cpu_flow import run_cpu_delivery
from tasks.gpu_flow import run_gpu_delivery
from tasks.recording import finish_job


def limits(stage: str) -> dict[str, Any]:
    """Soft and hard time limits of a stage's task, and no Celery retry cap: Celery counts every
    re-route, wait and backoff of a message as a retry, and each of those has its own bound
    (attempts, NODE_WAIT_S, re-routes, the holder's time limit)."""
    soft, hard = STAGE_TIME_LIMITS[stage]
    return {"soft_time_limit": soft, "time_limit": hard, "max_retries": None}


@app.task(name="render.keyframe", bind=True, queue="gpu", **limits("keyframe"))
def keyframe(self, stage_run_id: int, generation: int, reroutes: int = 0) -> dict[str, Any]:
    """Render a scene's keyframe image on a GPU backend."""
    return run_gpu_delivery(self, stage_run_id, generation, reroutes)


@app.task(name="render.animate", bind=True, queue="gpu", **limits("animate"))
def animate(self, stage_run_id: int, generation: int, reroutes: int = 0) -> dict[str, Any]:
    """Animate a scene's keyframe into frames and a clip on a GPU backend."""
    return run_gpu_delivery(self, stage_run_id, generation, reroutes)


@app.task(name="render.interpolate", bind=True, queue="gpu", **limits("interpolate"))
def interpolate(self, stage_run_id: int, generation: int, reroutes: int = 0) -> dict[str, Any]:
    """Interpolate a scene's frames (RIFE) into its final clip on a GPU backend."""
    return run_gpu_delivery(self, stage_run_id, generation, reroutes)


@app.task(name="render.compile", bind=True, queue="cpu", **limits("compile"))
def compile_episode(self, stage_run_id: int, generation: int) -> dict[str, Any]:
    """Join the scene clips into the episode video."""
    return run_cpu_delivery(self, stage_run_id, generation)


@app.task(name="render.mix", bind=True, queue="cpu", **limits("mix"))
def mix(self, stage_run_id: int, generation: int) -> dict[str, Any]:
    """Mix and mux the episode's audio."""
    return run_cpu_delivery(self, stage_run_id, generation)


@app.task(name="render.finish", queue="control", soft_time_limit=30, time_limit=60)
def finish(job_id: int, generation: int) -> str | None:
    """Close the job once every stage succeeded."""
    ctx = worker_context()
    with Session(ctx.engine) as session, session.begin():
        status = finish_job(session, job_id, generation)
    if status is Status.SUCCEEDED:
        ctx.bus.job_event(job_id, status=status.value, progress=1.0, eta_s=0.0)
    return status.value if status else None
