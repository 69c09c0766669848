"""The failed-stages page: the latest failed attempt of each stage, filtered by owner and
project, grouped by identical error (stage, error class, failing ComfyUI node class, message),
and retried a group at a time."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.models import Job, Project, StageRun, User
from tasks.pipeline.stage_rows import scene_numbers

FAILED_LIMIT = 500


def list_failed_stages(
    owner_id: int | None = None, project_id: int | None = None, limit: int = FAILED_LIMIT
) -> list[dict[str, Any]]:
    """Failed stage runs with no later attempt (yet), newest first, with their job, owner,
    project and scene order."""
    later = sa.orm.aliased(StageRun)
    newer_attempt = sa.exists().where(
        later.job_id == StageRun.job_id,
        later.stage == StageRun.stage,
        later.scene_id.is_not_distinct_from(StageRun.scene_id),
        later.attempt > StageRun.attempt,
    )
    stmt = (
        sa.select(StageRun, Job, User.email, Project.name)
        .join(Job, Job.id == StageRun.job_id)
        .join(User, User.id == Job.owner_id)
        .join(Project, Project.id == Job.project_id)
        .where(StageRun.status == "failed", ~newer_attempt)
    )
    if owner_id is not None:
        stmt = stmt.where(Job.owner_id == owner_id)
    if project_id is not None:
        stmt = stmt.where(Job.project_id == project_id)
    rows = db.session.execute(
        stmt.order_by(StageRun.finished_at.desc().nulls_last(), StageRun.id.desc()).limit(limit)
    ).all()
    numbers = scene_numbers(db.session, [run for run, *_ in rows])
    return [
        {
            "run": run,
            "job": job,
            "owner": email,
            "project": project,
            "scene": numbers.get(run.scene_id),
            "error_class": (run.error_detail or {}).get("exception_type")
            or (run.error_detail or {}).get("type"),
            "error_node": (run.error_detail or {}).get("node_type"),
        }
        for run, job, email, project in rows
    ]


def group_failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the same stage, error class, failing node class and message, as one group
    (the largest first), each with the stage run ids a group retry re-runs."""
    groups: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        run = row["run"]
        key = (run.stage, row["error_class"], row["error_node"], run.error)
        group = groups.setdefault(
            key,
            {
                "stage": run.stage,
                "error_class": row["error_class"],
                "error_node": row["error_node"],
                "error": run.error,
                "rows": [],
            },
        )
        group["rows"].append(row)
    ordered = sorted(groups.values(), key=lambda g: -len(g["rows"]))
    for index, group in enumerate(ordered):
        group["key"] = index
        group["stage_ids"] = [r["run"].id for r in group["rows"]]
    return ordered


def retry_plan(stage_ids: list[int]) -> dict[int, int | None]:
    """The retries a group asks for: per job, the one stage to re-run, or None (every failed
    stage of the job) when the group holds several of its stages."""
    rows = db.session.execute(
        sa.select(StageRun.job_id, StageRun.id).where(StageRun.id.in_(stage_ids))
    ).all()
    plan: dict[int, int | None] = {}
    for job_id, run_id in rows:
        plan[job_id] = None if job_id in plan else run_id
    return plan
