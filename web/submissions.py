"""A whole production submitted at once: its rows and its episode's render in one transaction.

Any refused part refuses the whole (nothing is written); a dry run checks everything the same
way, then rolls back. The same file submitted again updates its production: matched by its
`key`, else by project name and episode number, for the same owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import ConflictError, NotFoundError, ValidationError
from shared.models import Character, Episode, Job, Project, Scene, User
from web.jobs import status_url
from web.production import ACTIVE_JOB_STATUSES, save_scene, update_row
from web.quotas import check_priority, hold_submission
from web.services import dispatch

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What a production request did (or would do): the rows, the job, and warnings."""

    result: str
    dry_run: bool
    project_id: int | None = None
    episode_id: int | None = None
    character_ids: dict[str, int] = field(default_factory=dict)
    scene_ids: list[int] = field(default_factory=list)
    job: Job | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The response body."""
        job = self.job
        return {
            "result": self.result,
            "dry_run": self.dry_run,
            "project_id": self.project_id,
            "episode_id": self.episode_id,
            "character_ids": self.character_ids,
            "scene_ids": self.scene_ids,
            "request_id": job.id if job else None,
            "status": job.status if job else None,
            "status_url": status_url(job.id) if job else None,
            "warnings": self.warnings,
        }


def submit_production(user: User, data: dict[str, Any], *, dry_run: bool = False) -> Outcome:
    """Create or update a production's rows and queue its episode's render, all or nothing;
    a dry run checks the same and writes nothing.

    :raises ConflictError: the production's episode is rendering, or the file matches more
        than one project.
    :raises ValidationError: when the render cannot be planned (named as `render.<option>`).
    :raises PermissionDeniedError: for a priority above the caller's.
    :raises RateLimitedError: when the caller has too many active jobs.
    """
    try:
        check_priority(user, data["priority"])
        # Holds the caller's row until the end: their submissions match one after another.
        hold_submission(user)
        project = match_project(user, data)
        episode = match_episode(project, data["episode"]["number"])
        existed = (project.id if project else None, episode.id if episode else None)
        project = write_project(user, project, data)
        characters = write_characters(project, data["characters"])
        episode = write_episode(project, episode, data["episode"])
        scenes = write_scenes(episode, data["scenes"], characters)
        job = plan(user, project, episode, data)
        outcome = Outcome("updated" if existed[1] else "created", dry_run)
        outcome.warnings = missing_model_warnings(job, data)
        if dry_run:
            outcome.project_id, outcome.episode_id = existed
            db.session.rollback()
            return outcome
        outcome.project_id, outcome.episode_id = project.id, episode.id
        outcome.character_ids = {c.name: c.id for c in characters.values()}
        outcome.scene_ids = [s.id for s in scenes]
        outcome.job = job
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info(
        "production %s project_id=%s episode_id=%s job_id=%s",
        outcome.result,
        project.id,
        episode.id,
        job.id,
    )
    dispatch(job)
    return outcome


def match_project(user: User, data: dict[str, Any]) -> Project | None:
    """The caller's project this production updates: the one with its key, else the one with
    its name (preferring one that has its episode number; with a key, one that has no key
    yet, which then takes it); None for a new one.

    :raises ConflictError: several of the caller's projects fit.
    """
    owned = sa.select(Project).where(Project.owner_id == user.id)
    if data["key"] is not None:
        keyed = db.session.scalar(owned.where(Project.production_key == data["key"]))
        if keyed is not None:
            return keyed
        owned = owned.where(Project.production_key.is_(None))
    named = list(db.session.scalars(owned.where(Project.name == data["project"]["name"])))
    if len(named) > 1:
        number = data["episode"]["number"]
        named = [p for p in named if any(e.number == number for e in p.episodes)]
    if len(named) > 1:
        ids = ", ".join(str(p.id) for p in named)
        raise ConflictError(
            f"{len(named)} of your projects are named {data['project']['name']!r} with episode "
            f"{data['episode']['number']} (projects {ids}); rename the project, or give the "
            "production a new `key`",
            fields={"project.name": "matches several projects"},
        )
    return named[0] if named else None


def match_episode(project: Project | None, number: int) -> Episode | None:
    """The project's episode with this number, refused while one of its jobs renders.

    :raises ConflictError: a job of that episode is queued or running.
    """
    if project is None:
        return None
    episode = db.session.scalar(
        sa.select(Episode).where(Episode.project_id == project.id, Episode.number == number)
    )
    if episode is None:
        return None
    busy = db.session.scalar(
        sa.select(Job)
        .where(Job.episode_id == episode.id, Job.status.in_(ACTIVE_JOB_STATUSES))
        .limit(1)
    )
    if busy is not None:
        raise ConflictError(
            f"job {busy.id} of this production is {busy.status}; wait for it or cancel it "
            "before submitting the production again",
            fields={"episode.number": f"job {busy.id} is {busy.status}"},
        )
    return episode


def write_project(user: User, project: Project | None, data: dict[str, Any]) -> Project:
    """The project with the file's fields (and key)."""
    if project is None:
        project = Project(owner_id=user.id)
        db.session.add(project)
    fields = dict(data["project"])
    if data["key"] is not None:
        fields["production_key"] = data["key"]
    return update_row(project, fields, commit=False)


def write_characters(project: Project, rows: list[dict[str, Any]]) -> dict[str, Character]:
    """The file's characters by name, created or updated (the project's others are kept)."""
    existing = {c.name: c for c in project.characters}
    written = {}
    for fields in rows:
        character = existing.get(fields["name"])
        if character is None:
            character = Character(project_id=project.id)
            db.session.add(character)
        written[fields["name"]] = update_row(character, fields, commit=False)
    return written


def write_episode(project: Project, episode: Episode | None, fields: dict[str, Any]) -> Episode:
    """The episode with the file's fields."""
    if episode is None:
        episode = Episode(project_id=project.id)
        db.session.add(episode)
    return update_row(episode, fields, commit=False)


def write_scenes(
    episode: Episode, rows: list[dict[str, Any]], characters: dict[str, Character]
) -> list[Scene]:
    """The episode's scenes become the file's, in its order (1, 2, ...): a scene already at an
    order is updated, missing ones are created and the rest deleted. Each goes through the same
    service as `POST .../scenes`, so every rule of a scene applies here too.

    :raises ValidationError: naming every refused scene's fields as `scenes.<i>.<field>`.
    """
    wanted = range(1, len(rows) + 1)
    existing = {s.order: s for s in episode.scenes}
    for order, scene in existing.items():
        if order not in wanted:
            db.session.delete(scene)
    db.session.flush()
    scenes, problems = [], {}
    for order, fields in zip(wanted, rows, strict=True):
        fields = dict(fields)
        names = fields.pop("characters")
        fields |= {"order": order, "character_ids": [characters[n].id for n in names]}
        fields["dialogue"] = [
            {"character_id": characters[li["speaker"]].id, "text": li["text"], "at_s": li["at_s"]}
            for li in fields.get("dialogue", [])
        ]
        try:
            with db.session.begin_nested():  # a refused scene leaves the others to be checked
                scenes.append(save_scene(episode, fields, existing.get(order), commit=False))
        except ValidationError as exc:
            where = f"scenes.{order - 1}"
            problems |= {f"{where}.{k}": v for k, v in exc.fields.items()} or {where: exc.message}
    if problems:
        raise ValidationError("a scene of the production was refused", fields=problems)
    db.session.expire(episode, ["scenes"])
    return scenes


def plan(user: User, project: Project, episode: Episode, data: dict[str, Any]) -> Job:
    """The episode's render job, planned (not committed or sent).

    :raises ValidationError: the render options do not fit, named `render.<option>`.
    :raises NotFoundError: a workflow version the render options name is not stored.
    """
    from tasks.pipeline.planning import plan_job

    try:
        return plan_job(
            db.session,
            owner_id=user.id,
            project_id=project.id,
            kind="episode",
            episode_id=episode.id,
            options=data["render"],
            priority=data["priority"],
        )
    except (ValidationError, NotFoundError) as exc:
        fields = {file_field(k): v for k, v in exc.fields.items()}
        raise type(exc)(exc.message, fields=fields) from exc


def file_field(name: str) -> str:
    """A planner's field name in the production's terms (`options.frames` -> `render.frames`,
    `workflows` -> `render.workflows`)."""
    if name.startswith("options"):
        return "render" + name[len("options") :]
    return f"render.{name}" if name == "workflows" else name


def missing_model_warnings(job: Job, data: dict[str, Any]) -> list[dict[str, str]]:
    """What no online GPU node has, each with the field that asked for it (or none)."""
    from tasks.pipeline.availability import models_missing_online, online_nodes

    if not online_nodes(db.session):
        return [{"field": "", "message": "no GPU node is online: the render waits for one"}]
    warnings = []
    loras = {c.get("lora_name"): i for i, c in enumerate(data["characters"])}
    for folder, name in sorted(models_missing_online(db.session, job.stage_runs)):
        where = ""
        if folder == "loras" and name in loras:
            where = f"characters.{loras[name]}.lora_name"
        elif name == data["render"].get("checkpoint"):
            where = "render.checkpoint"
        message = f"no online GPU node has {folder}/{name}: the render would wait for one"
        warnings.append({"field": where, "message": message})
    return warnings
