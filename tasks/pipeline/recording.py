"""Terminal states and outputs, written by the tasks themselves in one transaction each."""

from __future__ import annotations

import logging
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.models import Asset, Job, StageRun, Status
from shared.models.columns import utcnow
from shared.models.status import move
from tasks.pipeline.leases import Owner, held_run, holds_lease
from tasks.pipeline.locking import NO_KEY_UPDATE, locked_job
from tasks.pipeline.references import link_reference
from tasks.pipeline.stage_rows import downstream, latest_runs
from workers.gpu_stage import Artifact

log = logging.getLogger(__name__)


def record_success(session: Session, run_id: int, owner: Owner, artifacts: list[Artifact]) -> bool:
    """Store outputs and mark the stage succeeded, if `owner` still holds it.

    Outputs are keyed by (job, stage, scene, attempt): a repeat overwrites its own rows.
    """
    run = held_run(session, run_id, owner)
    if run is None:
        return False
    upsert_assets(session, run, artifacts)
    finish_run(run, Status.SUCCEEDED)
    run.progress = 1.0
    run.step = run.step_max = max(run.step_max, run.step)
    if run.attempt > 1:  # a first attempt replaces nothing: no statement for it
        mark_superseded(session, run)
    return True


def mark_superseded(session: Session, run: StageRun) -> None:
    """Date the outputs of the earlier attempts of `run`'s stage (same job, scene and segment)
    as superseded now: `run` replaced them, and the clean-up removes them after a while."""
    earlier = sa.select(StageRun.id).where(
        StageRun.job_id == run.job_id,
        StageRun.stage == run.stage,
        StageRun.scene_id.is_not_distinct_from(run.scene_id),
        StageRun.segment == run.segment,
        StageRun.attempt < run.attempt,
    )
    session.execute(
        sa.update(Asset)
        .where(Asset.stage_run_id.in_(earlier), Asset.superseded_at.is_(None))
        .values(superseded_at=utcnow())
        .execution_options(synchronize_session=False)  # the session holds only `run`'s own
    )


def upsert_assets(session: Session, run: StageRun, artifacts: list[Artifact]) -> None:
    """The asset rows of the artifacts' keys, created or refreshed (the existing ones read in
    one statement, the new ones inserted together at commit)."""
    keys = [artifact.key for artifact in artifacts]
    existing = {a.uri: a for a in session.scalars(sa.select(Asset).where(Asset.uri.in_(keys)))}
    for artifact in artifacts:
        asset = existing.get(artifact.key)
        if asset is None:
            asset = existing[artifact.key] = Asset(uri=artifact.key)
            session.add(asset)
        refresh_asset(asset, run, artifact)


def refresh_asset(asset: Asset, run: StageRun, artifact: Artifact) -> None:
    """An asset row's facts from the artifact a stage run stored."""
    facts = dict(artifact.facts)
    asset.kind = artifact.kind
    asset.job_id = run.job_id
    asset.stage_run_id = run.id
    asset.mime_type = facts.pop("mime_type", "application/octet-stream")
    for name in ("size_bytes", "width", "height", "frames", "fps", "duration_s", "sha256"):
        if name in facts:
            setattr(asset, name, facts.pop(name))
    asset.meta = json_safe(facts)


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats (JSON has none) as None, e.g. the peak of silence."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def finish_run(
    run: StageRun, status: Status, error: str | None = None, detail: dict[str, Any] | None = None
) -> None:
    """Move a stage run to a terminal status and drop its lease.

    :raises IllegalTransition: when its lifecycle does not allow the move.
    """
    move(run, status)
    run.finished_at = utcnow()
    run.lease_owner = None
    run.lease_expires_at = None
    run.error = error
    run.error_detail = detail


def fail_held(
    session: Session,
    run_id: int,
    owner: Owner | None,
    message: str,
    detail: dict[str, Any] | None = None,
) -> list[StageRun] | None:
    """Fail the stage and its job at once with the message a person needs, if `owner` (None:
    whoever) still holds the stage; the stages that depended on it are skipped (other scenes
    go on). Returns the skipped stages; None when `owner` no longer holds it.

    Skipping dependants touches rows other scenes share (compile, mix), so every row of the
    job is locked first, in the farm's order, and the lease checked after: a stage's own row
    locked on its own first deadlocked with another stage's failure or a retake.
    """
    job_id = session.scalar(sa.select(StageRun.job_id).where(StageRun.id == run_id))
    job = locked_job(session, job_id)
    if owner is not None and not holds_lease(session, run_id, owner):
        return None
    run = session.get(StageRun, run_id)
    if run.status in (Status.SUCCEEDED, Status.CANCELLED):
        return []
    finish_run(run, Status.FAILED, message, detail)
    skipped = skip_dependents(session, run)
    if not Status(job.status).is_terminal:
        move(job, Status.FAILED)
        job.error = f"{run.stage} failed: {message}"
        job.finished_at = utcnow()
    log.warning(
        "stage failed job_id=%s run_id=%s stage=%s: %s", run.job_id, run.id, run.stage, message
    )
    return skipped


def skip_dependents(session: Session, failed: StageRun) -> list[StageRun]:
    """Mark the queued stages that needed `failed`'s output as skipped."""
    waiting = [
        r
        for r in downstream(latest_runs(session, failed.job_id), failed)
        if r.id != failed.id and r.status == Status.QUEUED
    ]
    message = f"skipped: {failed.stage} failed"
    for run in waiting:
        finish_run(
            run,
            Status.SKIPPED,
            message,
            {"code": "upstream_failed", "message": message, "failed_stage_id": failed.id},
        )
    return waiting


def record_cancelled(session: Session, run_id: int) -> None:
    """Mark a stage cancelled (its job was cancelled)."""
    run = session.get(StageRun, run_id, with_for_update=NO_KEY_UPDATE)
    if run is not None and not Status(run.status).is_terminal:
        finish_run(run, Status.CANCELLED, "job cancelled")


def next_attempt(
    session: Session,
    run_id: int,
    message: str,
    detail: dict[str, Any] | None,
    task_id: str | None,
) -> StageRun:
    """Close a transiently failed attempt and add the next one, waiting to run as the retry
    message `task_id` (so the sweeper sees it is on its way; None: a canvas dispatched next
    names it)."""
    run = session.get(StageRun, run_id, with_for_update=NO_KEY_UPDATE)
    finish_run(run, Status.FAILED, f"transient: {message}", detail)
    retry = StageRun(
        job_id=run.job_id,
        scene_id=run.scene_id,
        stage=run.stage,
        segment=run.segment,
        attempt=run.attempt + 1,
        status=Status.RETRYING.value,
        workflow_id=run.workflow_id,
        inputs=run.inputs,
        celery_task_id=task_id,
    )
    session.add(retry)
    session.flush()
    return retry


def finish_job(session: Session, job_id: int, generation: int) -> Status | None:
    """Close a job whose stages all succeeded; returns the new status, None if unchanged."""
    job = session.get(Job, job_id, with_for_update=NO_KEY_UPDATE)
    if job is None or job.canvas_generation != generation or Status(job.status).is_terminal:
        return None
    runs = latest_runs(session, job_id)
    if not all(r.status == Status.SUCCEEDED for r in runs):
        return None
    move(job, Status.SUCCEEDED)
    link_reference(session, job)
    job.progress = 1.0
    job.eta_s = 0.0
    job.current_stage = None
    job.finished_at = utcnow()
    return Status.SUCCEEDED
