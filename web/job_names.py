"""What people call a job: its project, episode number and title, the stage it failed at, and
the file name its outputs are saved under (`neon-rain-ep1-pilot.mp4`, not `job8-episode-96`)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.models import Episode, Job, Project, StageRun, Status
from shared.stages import position
from tasks.pipeline.stage_rows import scene_numbers

NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str, limit: int = 40) -> str:
    """Lower-case letters and digits joined by `-` (empty when nothing is left)."""
    return NOT_SLUG.sub("-", text.lower()).strip("-")[:limit].strip("-")


def production_names(jobs: list[Job]) -> dict[int, dict[str, Any]]:
    """For each job id: its project's name, its episode's number and title, and the stem of
    its output files."""
    projects = {j.project_id for j in jobs}
    episodes = {j.episode_id for j in jobs if j.episode_id is not None}
    names = (
        dict(
            db.session.execute(
                sa.select(Project.id, Project.name).where(Project.id.in_(projects))
            ).all()
        )
        if projects
        else {}
    )
    shows = (
        {
            row.id: row
            for row in db.session.execute(
                sa.select(Episode.id, Episode.number, Episode.title).where(Episode.id.in_(episodes))
            )
        }
        if episodes
        else {}
    )
    described = {}
    for job in jobs:
        show = shows.get(job.episode_id)
        project = names.get(job.project_id, "")
        described[job.id] = {
            "project_name": project,
            "episode_number": show.number if show else None,
            "episode_title": show.title if show else None,
            "file_stem": file_stem(
                job.id, project, show.number if show else None, show.title if show else None
            ),
        }
    return described


def file_stem(job_id: int, project: str, number: int | None, title: str | None) -> str:
    """`<project>-ep<N>-<title>` slugged (the job id only when the production has no name)."""
    parts = [slug(project), f"ep{number}" if number is not None else "", slug(title or "")]
    stem = "-".join(p for p in parts if p)
    return stem or f"job{job_id}"


def failed_stages(runs_by_job: dict[int, list[StageRun]]) -> dict[int, str]:
    """For each job with a stage that failed for good, that stage as people read it
    (`animate of scene 2`): the earliest in the pipeline when several did."""
    all_runs = [r for runs in runs_by_job.values() for r in runs]
    numbers = scene_numbers(db.session, [r for r in all_runs if r.status == Status.FAILED])
    found = {}
    for job_id, runs in runs_by_job.items():
        latest: dict[tuple[str, int | None], StageRun] = {}
        for run in sorted(runs, key=lambda r: r.attempt):
            latest[(run.stage, run.scene_id)] = run
        failed = [r for r in latest.values() if r.status == Status.FAILED]
        if failed:
            run = min(failed, key=lambda r: (position(r.stage), numbers.get(r.scene_id, 0)))
            found[job_id] = stage_label(run.stage, numbers.get(run.scene_id))
    return found


def stage_label(stage: str, scene: int | None) -> str:
    """`animate of scene 2`, or `mix` for an episode stage."""
    return stage if scene is None else f"{stage} of scene {scene}"


def failed_stages_of(jobs: list[Job]) -> dict[int, str]:
    """failed_stages for the failed jobs among `jobs`, loading their stage runs."""
    ids = [j.id for j in jobs if j.status == Status.FAILED]
    if not ids:
        return {}
    runs: dict[int, list[StageRun]] = {i: [] for i in ids}
    for run in db.session.scalars(sa.select(StageRun).where(StageRun.job_id.in_(ids))):
        runs[run.job_id].append(run)
    return failed_stages(runs)


def named_jobs(jobs: list[Job]) -> list[dict[str, Any]]:
    """Jobs as the job list shows them: their columns, production names and failed stage."""
    names = production_names(jobs)
    failed = failed_stages_of(jobs)
    columns = [c.key for c in sa.inspect(Job).column_attrs]
    return [
        {
            **{name: getattr(job, name) for name in columns},
            **names[job.id],
            "failed_stage": failed.get(job.id),
        }
        for job in jobs
    ]
