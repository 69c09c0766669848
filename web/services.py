"""Generation services: they own the transaction (write the Job, commit, then dispatch).

The pipeline functions are imported where they are called: they live in `tasks/`, which pulls
in Celery and the canvas builder, and the web tier only needs them on these paths.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from kombu.exceptions import OperationalError

from shared.db import db
from shared.errors import PermissionDeniedError, TransientError
from shared.models import (
    Episode,
    Job,
    JobRetry,
    Project,
    Role,
    Scene,
    User,
)
from shared.settings_store import get_setting
from web.guests import check_guest_options, check_guest_submission
from web.jobs import visible_job
from web.production import can_write, visible_character, visible_project, visible_scene
from web.quotas import check_priority, hold_submission

log = logging.getLogger(__name__)
# A broker outage after the commit leaves the job queued; the sweeper re-dispatches it.
DISPATCH_ERRORS = (OperationalError, redis.RedisError, TransientError, ConnectionError)


def submittable_project(user: User, project_id: int, kind: str) -> Project:
    """A project the caller may render `kind` jobs for.

    :raises NotFoundError: when missing or not visible.
    :raises PermissionDeniedError: when visible but not the caller's (guests: see guest mode).
    :raises RateLimitedError: when a guest's hourly quota is used up.
    """
    project = visible_project(user, project_id)
    if user.role == Role.GUEST.value:
        check_guest_submission(user, kind, project)
    elif not can_write(user, project):
        raise PermissionDeniedError("only the project's owner may render it")
    return project


def submit_job(user: User, project_id: int, kind: str, **plan: Any) -> Job:
    """Plan a job for a project, commit it queued, then dispatch its canvas.

    :raises ValidationError: when the request does not fit the project's rows or workflows.
    :raises NotFoundError: for a project, episode, scene or character that is not there.
    """
    project = submittable_project(user, project_id, kind)
    return plan_and_dispatch(user, project, kind, **plan)


def plan_and_dispatch(user: User, project: Project, kind: str, **plan: Any) -> Job:
    """Add the job and its stage runs, commit, then enqueue (style rule 6).

    :raises ValidationError: when the planner refuses the request, or a guest sets per-stage
        parameters.
    :raises PermissionDeniedError: for a priority above the caller's.
    :raises RateLimitedError: when the caller has too many active jobs (guests: this hour).
    """
    from tasks.pipeline.planning import plan_job

    check_priority(user, plan.get("priority", 5))
    check_guest_options(user, plan.get("options"))
    try:
        hold_submission(user)
        job = plan_job(
            db.session,
            owner_id=user.id,
            project_id=project.id,
            kind=kind,
            max_scene_s=get_setting("scene_max_s"),
            **plan,
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("job queued job_id=%s kind=%s owner=%s", job.id, kind, user.id)
    dispatch(job)
    return job


def dispatch(job: Job) -> str | None:
    """Send a committed job's canvas; dispatch_job records the root task id on the row itself
    (in its own session, so this one must not write the row again)."""
    from tasks.pipelines import dispatch_job

    try:
        root = dispatch_job(job.id)
    except DISPATCH_ERRORS as exc:
        log.warning("dispatch failed job_id=%s (left queued for the sweeper): %s", job.id, exc)
        return None
    log.info("job dispatched job_id=%s root=%s", job.id, root)
    return root


def submit_scene(user: User, scene_id: int, kind: str, **plan: Any) -> Job:
    """Render one scene (as a clip, or only its keyframe).

    :raises NotFoundError: when the scene is missing or not visible.
    """
    scene = visible_scene(user, scene_id)
    episode = db.session.get(Episode, scene.episode_id)
    return submit_job(
        user, episode.project_id, kind, episode_id=episode.id, scene_ids=[scene.id], **plan
    )


def submit_character(user: User, character_id: int, **plan: Any) -> Job:
    """Render a character's reference sheet (keyframe only).

    :raises NotFoundError: when the character is missing or not visible.
    """
    character = visible_character(user, character_id)
    return submit_job(user, character.project_id, "character", character_id=character.id, **plan)


def submit_professional(user: User, data: dict[str, Any]) -> Job:
    """A job with every stage's parameters and workflow versions given explicitly."""
    options = dict(data["options"])
    options["workflows"] = {**options.get("workflows", {}), **data["workflows"]}
    options["stages"] = {**options.get("stages", {}), **data["stages"]}
    return submit_job(
        user,
        data["project_id"],
        data["kind"],
        episode_id=data["episode_id"],
        scene_ids=data["scene_ids"],
        character_id=data["character_id"],
        options=options,
        priority=data["priority"],
    )


def split_brief(brief: str, count: int) -> list[str]:
    """Cut a brief into `count` scene prompts at sentence ends (repeating when short)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", brief) if s.strip()]
    if len(sentences) <= count:
        return [sentences[i % len(sentences)] for i in range(count)]
    size = -(-len(sentences) // count)
    return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)][:count]


def submit_integrated(user: User, data: dict[str, Any]) -> tuple[Job, Episode, list[Scene]]:
    """From a brief: a project (or the given one), an episode and its scenes, then the job.

    :raises ValidationError: when a character is not in the project or the planner refuses.
    :raises ConflictError: naming `project_id` when its last episode has the highest number.
    """
    if user.role == Role.GUEST.value:
        raise PermissionDeniedError("guests may not use the integrated preset")
    if data["project_id"] is not None:
        project = visible_project(user, data["project_id"], write=True)
    else:
        title = data["title"] or data["brief"][:80]
        project = Project(
            owner_id=user.id, name=title, style=data["style"], description=data["brief"]
        )
        db.session.add(project)
        db.session.flush()
    from web.production import next_episode_number, save_scene

    number = next_episode_number(project.id, field="project_id")
    episode = Episode(
        project_id=project.id, number=number, title=data["title"] or data["brief"][:80]
    )
    db.session.add(episode)
    db.session.flush()
    scenes = []
    for order, prompt in enumerate(split_brief(data["brief"], data["scenes"])):
        scenes.append(
            save_scene(
                episode,
                {
                    "order": order,
                    "prompt": prompt,
                    "negative_prompt": data["negative_prompt"],
                    "duration_s": data["duration_s"],
                    "mood": data["mood"],
                    "character_ids": data["character_ids"],
                },
                commit=False,
            )
        )
    kind = "episode" if len(scenes) > 1 else "scene"
    job = plan_and_dispatch(
        user,
        project,
        kind,
        episode_id=episode.id,
        scene_ids=[s.id for s in scenes],
        options=data["options"],
        priority=data["priority"],
    )
    return job, episode, scenes


def cancel_job(user: User, job_id: int) -> Job:
    """Mark a job cancelled, then revoke its tasks and interrupt its prompts.

    :raises ConflictError: when the job has already ended.
    """
    job = visible_job(user, job_id)
    from tasks.pipeline.control import request_cancel
    from tasks.stopping import stop_job

    request_cancel(db.session, job)
    db.session.commit()
    stop_job(job.id)
    return job


def retry_job(user: User, job_id: int, stage_id: int | None) -> Job:
    """Queue new attempts of failed or cancelled stages (and what follows), then dispatch.

    :raises ConflictError: when there is nothing to retry.
    """
    from tasks.pipeline.control import prepare_retry

    job = visible_job(user, job_id)
    try:
        hold_submission(user, excluding=job.id)
        prepare_retry(db.session, job, stage_id)
        # Recorded under the lock hold_submission took: a guest's retries count in its quota.
        db.session.add(JobRetry(job_id=job.id, owner_id=user.id))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    dispatch(job)
    return job


def retake_scene(
    user: User, scene_id: int, *, seed: int | None = None, prompt: str | None = None
) -> Job:
    """Re-render one scene of its episode job (new seed or prompt), keep every other scene's
    clip, recompile; commit, then dispatch.

    :raises ConflictError: the scene was never rendered, or its job is still running, failed
        or was cancelled (retry that job, or submit again).
    """
    from tasks.pipeline.control import prepare_retake

    scene = visible_scene(user, scene_id, write=True)
    try:
        hold_submission(user)
        job = prepare_retake(db.session, scene, seed=seed, prompt=prompt)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    dispatch(job)
    return job
