"""Job queries: who may see or control a job, the filtered job list, and the status report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import joinedload

from shared.db import db
from shared.errors import NotFoundError
from shared.models import Asset, Job, Scene, StageRun, User
from shared.stages import position, stage_kind
from tasks.pipeline.waiting import WAITING, waiting_reasons
from web.episode_meta import episode_metadata
from web.identity import is_staff
from web.job_names import failed_stages, production_names
from web.paging import fetch_page
from web.production import get_row


def visible_job(user: User, job_id: int) -> Job:
    """A job the caller may see (and so cancel or retry): their own, or any for staff.

    :raises NotFoundError: when missing or not the caller's.
    """
    job = get_row(Job, job_id, "job")
    if not may_see(user, job):
        raise NotFoundError(f"job {job_id} not found")
    return job


def may_see(user: User, job: Job) -> bool:
    """Owners see their jobs; operators and admins see all."""
    return job.owner_id == user.id or is_staff(user)


def list_jobs(
    user: User, filters: dict[str, Any], *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Jobs the caller may see, newest first, filtered by status, kind, project, owner and time."""
    stmt = sa.select(Job)
    if not is_staff(user):
        stmt = stmt.where(Job.owner_id == user.id)
    for name, column in (
        ("status", Job.status),
        ("kind", Job.kind),
        ("project_id", Job.project_id),
        ("owner_id", Job.owner_id),
    ):
        if filters.get(name) is not None:
            stmt = stmt.where(column == filters[name])
    if filters.get("created_after") is not None:
        stmt = stmt.where(Job.created_at >= filters["created_after"])
    if filters.get("created_before") is not None:
        stmt = stmt.where(Job.created_at < filters["created_before"])
    return fetch_page(
        stmt,
        [Job.created_at, Job.id],
        descending=True,
        limit=limit,
        cursor=cursor,
        kinds=(datetime, int),
    )


def asset_url(asset_id: int) -> str:
    """Where a client downloads an asset's content."""
    return url_for("assets.get_asset_content", asset_id=asset_id)


def status_url(job_id: int) -> str:
    """Where a client polls a job's status."""
    return url_for("generation.get_status", request_id=job_id)


def describe_outputs(assets: list[Asset]) -> list[dict[str, Any]]:
    """Assets as {"asset_id", "kind", "url"}, with placements, QC and loudness where stored."""
    return [
        {"asset_id": a.id, "kind": a.kind, "url": asset_url(a.id)} | episode_metadata(a)
        for a in assets
    ]


ERROR_DETAIL_FIELDS = ("code", "type", "node_id", "node_type", "exception_type")


def describe_error(run: StageRun) -> dict[str, Any] | None:
    """A stage's error as {code, type, node_id, node_type, exception_type, message}."""
    if run.error is None:
        return None
    detail = run.error_detail or {}
    return {
        **{name: detail.get(name) for name in ERROR_DETAIL_FIELDS},
        "message": detail.get("message") or run.error,
    }


def final_outputs(runs: list[StageRun]) -> list[Asset]:
    """The job's deliverables: outputs of the latest succeeded attempts of its last stage."""
    if not runs:
        return []
    last = max(runs, key=lambda r: position(r.stage)).stage
    latest: dict[Any, StageRun] = {}
    for run in runs:
        if run.stage == last and run.status == "succeeded":
            key = run.scene_id
            if key not in latest or run.attempt > latest[key].attempt:
                latest[key] = run
    return [asset for run in latest.values() for asset in run.assets]


def scene_orders(scene_ids) -> dict[int, int]:
    """Each scene's order in its episode (0 first), by scene id."""
    wanted = {i for i in scene_ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(sa.select(Scene.id, Scene.order).where(Scene.id.in_(wanted)))
    return {scene_id: order for scene_id, order in rows}


def load_job_with_stages(job_id: int) -> Job | None:
    """A job with its stage runs and their assets in one load (fresh from the database), or
    None when there is none."""
    if not 0 < job_id < 2**63:
        return None
    return (
        db.session.execute(
            sa.select(Job)
            .where(Job.id == job_id)
            .options(joinedload(Job.stage_runs).joinedload(StageRun.assets))  # one round trip
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one_or_none()
    )


def job_outputs(job_id: int) -> list[dict[str, Any]]:
    """A job's final outputs as its status report lists them (none for a missing job)."""
    job = load_job_with_stages(job_id)
    return describe_outputs(final_outputs(job.stage_runs)) if job else []


def stored_report(job_id: int) -> tuple[dict[str, Any], bool]:
    """The issue-4 status report of a job as its rows tell it (web.status_cache checks who
    may see it and lays the live progress over it), and whether it reads the fleet: a waiting
    GPU stage's reason depends on the nodes and on how long ago they were last heard from.

    :raises NotFoundError: when missing.
    """
    job = load_job_with_stages(job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    orders = scene_orders(run.scene_id for run in job.stage_runs)
    latest = latest_of(job.stage_runs)
    waiting = waiting_reasons(db.session, latest)
    stages = [
        {
            "id": run.id,
            "scene_id": run.scene_id,
            "scene_order": orders.get(run.scene_id),
            "next_scene_id": (run.inputs or {}).get("next_scene_id"),
            "segment": run.segment,
            "stage": run.stage,
            "status": run.status,
            "attempt": run.attempt,
            "progress": run.progress,
            "backend": run.backend,
            "comfy_node": run.node,
            "prompt_id": run.prompt_id,
            "error": run.error,
            "error_detail": describe_error(run),
            "outputs": describe_outputs(run.assets),
            "queued_at": run.queued_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "waiting_for": waiting.get(run.id),
        }
        for run in job.stage_runs
    ]
    report = {
        "request_id": job.id,
        "kind": job.kind,
        "project_id": job.project_id,
        "episode_id": job.episode_id,
        "priority": job.priority,
        "status": job.status,
        "progress": job.progress,
        "current_stage": job.current_stage,
        "error": job.error,
        "eta_s": job.eta_s,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "stages": stages,
        "outputs": describe_outputs(final_outputs(job.stage_runs)),
        "failed_stage": failed_stages({job.id: job.stage_runs}).get(job.id),
        **production_names([job])[job.id],
    }
    reads_fleet = any(r.status in WAITING and stage_kind(r.stage).is_gpu for r in latest)
    return report, reads_fleet


def latest_of(runs: list[StageRun]) -> list[StageRun]:
    """The newest attempt of each (stage, scene) among a job's runs."""
    latest: dict[tuple[str, int | None], StageRun] = {}
    for run in sorted(runs, key=lambda r: r.attempt):
        latest[(run.stage, run.scene_id)] = run
    return list(latest.values())
