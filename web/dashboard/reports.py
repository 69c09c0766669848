"""What the dashboard pages show: job rows, a job's per-scene stage timeline and previews, and
the failed stages operators retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import NotFoundError
from shared.models import Job, Scene, StageRun, User
from shared.models.columns import utcnow
from shared.stages import position, stage_kind
from tasks.pipeline.stage_rows import clip_run
from tasks.pipeline.waiting import waiting_reasons
from web.job_names import failed_stages, failed_stages_of, production_names
from web.jobs import asset_url, latest_of, load_job_with_stages


def describe_jobs(jobs: list[Job]) -> list[dict[str, Any]]:
    """Job rows for the jobs table: the owner's email, the production's names and the stage a
    failed job failed at."""
    owners = {j.owner_id for j in jobs}
    emails = (
        dict(db.session.execute(sa.select(User.id, User.email).where(User.id.in_(owners))).all())
        if owners
        else {}
    )
    shows = production_names(jobs)
    failed = failed_stages_of(jobs)
    return [
        {
            "job": j,
            "owner": emails.get(j.owner_id, "?"),
            "project": shows[j.id]["project_name"] or "?",
            "names": shows[j.id],
            "failed_stage": failed.get(j.id),
        }
        for j in jobs
    ]


def load_job(job_id: int) -> Job:
    """A job with its stage runs and their assets.

    :raises NotFoundError: when it does not exist.
    """
    job = load_job_with_stages(job_id)
    if job is None:
        raise NotFoundError(f"job {job_id} not found")
    return job


def sort_key(run: StageRun) -> tuple[int, int, int]:
    """Sort key: pipeline order, then attempt."""
    return position(run.stage), run.attempt, run.id


def elapsed_s(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds between two instants, when both are known."""
    return (end - start).total_seconds() if start and end else None


def describe_run(
    run: StageRun, origin: datetime, span: float, waiting: dict[int, str] | None = None
) -> dict[str, Any]:
    """One stage run as a timeline bar: where it was queued, ran and ended, in % of the span,
    and why it waits when it has not started."""
    now = utcnow()
    queued = max(elapsed_s(origin, run.queued_at) or 0.0, 0.0)
    started = elapsed_s(origin, run.started_at)
    ended = elapsed_s(origin, run.finished_at or (now if run.status == "running" else None))
    wait_end = started if started is not None else (ended if ended is not None else queued)
    detail = run.error_detail or {}
    return {
        "run": run,
        "wait_s": elapsed_s(run.queued_at, run.started_at),
        "run_s": elapsed_s(run.started_at, run.finished_at),
        "bar": {
            "left": 100 * queued / span,
            "wait": 100 * max(wait_end - queued, 0.0) / span,
            "run": 100 * max((ended or wait_end) - wait_end, 0.0) / span,
        },
        "error_class": detail.get("exception_type") or detail.get("type"),
        "error_node": detail.get("node_type"),
        "outputs": [{"asset": a, "url": asset_url(a.id)} for a in run.assets],
        "waiting_for": (waiting or {}).get(run.id),
    }


def build_timeline(job: Job) -> dict[str, Any]:
    """The job detail: per-scene rows of stage runs on one time axis, episode-level runs, and
    previews (keyframes, scene clips, the episode)."""
    runs = sorted(job.stage_runs, key=sort_key)
    origin = job.created_at
    instants = [t for r in runs for t in (r.queued_at, r.started_at, r.finished_at) if t]
    end = max([*instants, job.finished_at or utcnow()])
    span = max(elapsed_s(origin, end) or 0.0, 1.0)
    scene_ids = sorted({r.scene_id for r in runs if r.scene_id is not None})
    scenes = (
        {s.id: s for s in db.session.scalars(sa.select(Scene).where(Scene.id.in_(scene_ids)))}
        if scene_ids
        else {}
    )
    order = sorted(scene_ids, key=lambda i: (scenes[i].order if i in scenes else 0, i))
    waiting = waiting_reasons(db.session, latest_of(runs))
    rows = [
        {
            "scene": scenes.get(sid),
            "scene_id": sid,
            "runs": [describe_run(r, origin, span, waiting) for r in runs if r.scene_id == sid],
            "previews": scene_previews([r for r in runs if r.scene_id == sid]),
        }
        for sid in order
    ]
    episode_runs = [r for r in runs if r.scene_id is None]
    numbers = {sid: s.order for sid, s in scenes.items()}
    return {
        "job": job,
        "names": production_names([job])[job.id],
        "failed_stage": failed_stages({job.id: runs}).get(job.id),
        "span_s": span,
        "scenes": rows,
        "episode_runs": [describe_run(r, origin, span, waiting) for r in episode_runs],
        "episode": latest_output(episode_runs, ("episode", "video")),
        "errors": [
            {**describe_run(r, origin, span), "scene": numbers.get(r.scene_id)}
            for r in runs
            if r.status == "failed"
        ],
    }


def latest_output(runs: list[StageRun], kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The newest succeeded output of one of `kinds`, from the latest stage in the pipeline
    that wrote one (preferring the first kind)."""
    done = [r for r in runs if r.status == "succeeded"]
    for run in sorted(done, key=lambda r: (position(r.stage), r.attempt), reverse=True):
        for kind in kinds:
            asset = next((a for a in run.assets if a.kind == kind), None)
            if asset is not None:
                return {"asset": asset, "url": asset_url(asset.id), "stage": run.stage}
    return None


def scene_previews(runs: list[StageRun]) -> dict[str, Any]:
    """A scene's image and its clip so far (the last stage's that makes clips)."""
    clip = clip_run(runs)
    kind = stage_kind(clip.stage).clip if clip else None
    return {
        "image": latest_output(runs, ("image",)),
        "clip": latest_output([clip], (kind,)) if clip else None,
    }
