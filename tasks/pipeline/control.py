"""Job control from the API and the dashboard: cancel, retry and retake, as row changes in the
caller's transaction (the web service commits; tasks.stopping and the canvas act after, by
id)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.errors import ConflictError, NotFoundError
from shared.job_progress import StageCost, job_fraction
from shared.models import Job, Scene, StageRun, Status
from shared.models.columns import utcnow
from shared.models.status import move
from shared.stages import Per, position, stage_kind
from tasks.pipeline.locking import locked_job
from tasks.pipeline.planning import replan_scene_stage
from tasks.pipeline.stage_rows import downstream, latest_runs, touches

log = logging.getLogger(__name__)

ACTIVE = (Status.QUEUED, Status.RUNNING, Status.RETRYING)


def request_cancel(session: Session, job: Job) -> None:
    """Mark the job cancelled; queued stages are cancelled now, running ones by their tasks.

    :raises ConflictError: the job already ended.
    """
    lock_job_rows(session, job)
    if Status(job.status).is_terminal:
        raise ConflictError(f"job {job.id} already {job.status}", fields={"status": job.status})
    job.cancel_requested = True
    move(job, Status.CANCELLED)
    job.finished_at = utcnow()
    job.error = "cancelled"
    for run in job.stage_runs:
        if run.status in (Status.QUEUED, Status.RETRYING):
            move(run, Status.CANCELLED)
            run.finished_at = utcnow()
            run.error = "job cancelled"


def lock_job_rows(session: Session, job: Job) -> None:
    """Lock the job's rows in the farm's order (tasks.pipeline.locking) and read them afresh."""
    locked_job(session, job.id)


def prepare_retry(session: Session, job: Job, stage_id: int | None = None) -> list[StageRun]:
    """New attempts for the failed (or named) stage and everything after it; earlier
    successful outputs are reused. The caller commits, then dispatches.

    :raises ConflictError: the job is still running, or nothing failed.
    :raises NotFoundError: the named stage is not one of the job's.
    """
    # A failed job's other scenes may still be recording.
    lock_job_rows(session, job)
    if job.status in (Status.QUEUED, Status.RUNNING):
        raise ConflictError(
            f"job {job.id} is {job.status}; cancel it first or wait", fields={"status": job.status}
        )
    runs = latest_runs(session, job.id)
    if stage_id is not None:
        start = [r for r in runs if r.id == stage_id]
        if not start:
            raise NotFoundError(
                f"stage {stage_id} is not a current stage of job {job.id}",
                fields={"stage_id": "not found"},
            )
    else:
        start = [
            r
            for r in runs
            if r.status in (Status.FAILED, Status.CANCELLED, Status.QUEUED, Status.RETRYING)
        ]
        if not start:
            raise ConflictError(f"job {job.id} has nothing to retry", fields={"status": "done"})
    again = {r.id: r for s in start for r in downstream(runs, s)}
    # Stages that never ran stay as they are (skipped ones queued again); those that ended get
    # a new attempt.
    for run in again.values():
        if run.status == Status.SKIPPED:
            move(run, Status.QUEUED)
            run.finished_at = run.error = run.error_detail = None
    fresh = [
        StageRun(
            job_id=job.id,
            scene_id=r.scene_id,
            stage=r.stage,
            segment=r.segment,
            attempt=r.attempt + 1,
            workflow_id=r.workflow_id,
            inputs=r.inputs,
        )
        for r in again.values()
        if Status(r.status).is_terminal
    ]
    session.add_all(fresh)
    requeue(session, job)
    return fresh


def requeue(session: Session, job: Job) -> None:
    """Put a job back in the queue; its progress restarts from what is really done."""
    session.flush()
    move(job, Status.QUEUED)
    job.cancel_requested = False
    job.error = None
    job.finished_at = None
    costs = [StageCost.from_row(r) for r in latest_runs(session, job.id)]
    job.progress = job_fraction(costs, job.status)
    session.flush()


def latest_render_of(session: Session, scene_id: int) -> Job | None:
    """The newest episode or scene job that has a stage run for `scene_id`."""
    return session.scalar(
        sa.select(Job)
        .join(StageRun)
        .where(StageRun.scene_id == scene_id, Job.kind.in_(("episode", "scene")))
        .order_by(Job.created_at.desc())
        .limit(1)
    )


def prepare_retake(
    session: Session, scene: Scene, *, seed: int | None = None, prompt: str | None = None
) -> Job:
    """Re-render one scene of its latest episode job (a new seed, or a new prompt) and
    recompile; every other scene keeps its clip. The caller commits, then dispatches.

    Without a new seed or prompt the scene gets the next seed, so the retake differs.

    :raises ConflictError: the scene was never rendered in an episode job, or that job runs,
        failed or was cancelled.
    """
    job = latest_render_of(session, scene.id)
    if job is None:
        raise ConflictError(
            f"scene {scene.id} has not been rendered yet; generate it first",
            fields={"scene_id": "never rendered"},
        )
    lock_job_rows(session, job)  # two retakes of one episode at once: the second sees the first
    if job.status in (Status.QUEUED, Status.RUNNING):
        raise ConflictError(
            f"job {job.id} is {job.status}; wait for it or cancel it", fields={"status": job.status}
        )
    if job.status != Status.SUCCEEDED:
        # Its other scenes have no clips to keep: a retake would wait on them for ever.
        raise ConflictError(
            f"job {job.id} {job.status}; a retake changes one scene of a finished episode: "
            f"retry job {job.id} (tower retry {job.id}) or submit the production again",
            fields={"status": job.status},
        )
    runs = latest_runs(session, job.id)
    if prompt is not None:
        scene.prompt = prompt
    if seed is not None or prompt is None:
        first = min(
            (r for r in runs if r.scene_id == scene.id),
            key=lambda r: position(r.stage),
            default=None,
        )
        previous = first.inputs.get("params", {}).get("seed", 0) if first else 0
        scene.seed = seed if seed is not None else (previous + 1) % (2**32)
    session.flush()
    # Each stage once (its segments, if any, come back together), at its next attempt.
    attempts: dict[str, int] = {}
    for r in runs:
        if r.scene_id == scene.id and stage_kind(r.stage).per is Per.SCENE:
            attempts[r.stage] = max(attempts.get(r.stage, 0), r.attempt + 1)
    fresh = [
        run
        for stage, attempt in attempts.items()
        for run in replan_scene_stage(session, job, scene, stage, attempt)
    ]
    # The bridges from and to the scene, and the episode stages, run again as they were.
    fresh += [
        StageRun(
            job_id=job.id,
            scene_id=r.scene_id,
            stage=r.stage,
            attempt=r.attempt + 1,
            workflow_id=r.workflow_id,
            inputs=r.inputs,
        )
        for r in runs
        if r.scene_id is None or (stage_kind(r.stage).per is Per.PAIR and touches(r, scene.id))
    ]
    job.stage_runs.extend(fresh)
    requeue(session, job)
    return job
