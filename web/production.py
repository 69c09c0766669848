"""Production plan services: projects, characters, episodes and scenes, with ownership."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from shared.models import (
    Character,
    Episode,
    Job,
    Project,
    Role,
    Scene,
    Status,
    Transition,
    User,
)
from shared.settings_store import get_setting
from tasks.pipeline.episode_format import bridge_frames, cue_problems
from web.artifacts import project_artifacts, remove_project_artifacts
from web.dialogue import checked_dialogue
from web.library import check_scene_audio
from web.model_files import lora_warnings
from web.paging import fetch_page
from web.schemas.common import MAX_EPISODE_NUMBER, MAX_ID, MAX_SCENE_ORDER

ACTIVE_JOB_STATUSES = (Status.QUEUED.value, Status.RUNNING.value)
# Advisory lock classes of the "last + 1" numbering: one project's episodes, one episode's
# scenes. Simultaneous requests take turns, each reading the number the one before committed
# (else both took the same and one was refused by the unique constraint, no field named).
EPISODE_NUMBERING_LOCK = 0x70E5F3
SCENE_NUMBERING_LOCK = 0x70E5F4


def get_row(model: type, row_id: int, what: str) -> Any:
    """The row with this id.

    :raises NotFoundError: when there is none.
    """
    row = db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None
    if row is None:
        raise NotFoundError(f"{what} {row_id} not found")
    return row


def can_read(user: User | None, project: Project) -> bool:
    """Owners, staff and (for public demo projects) everyone, even without an account
    (`user` None), may read a project."""
    return project.is_public or (
        user is not None
        and (project.owner_id == user.id or user.role in (Role.ADMIN.value, Role.OPERATOR.value))
    )


def can_write(user: User, project: Project) -> bool:
    """Only the owner and admins change a project and what it holds."""
    return project.owner_id == user.id or user.role == Role.ADMIN.value


@contextmanager
def hidden_as(what: str, row_id: int) -> Iterator[None]:
    """Report a row whose project the caller may not see as that row missing: naming the
    project would tell them the row exists, and where."""
    try:
        yield
    except NotFoundError:
        raise NotFoundError(f"{what} {row_id} not found") from None


def visible_project(user: User | None, project_id: int, *, write: bool = False) -> Project:
    """A project the caller may read (or change, with `write`).

    :raises NotFoundError: when it is missing or not visible to the caller.
    :raises PermissionDeniedError: when it is visible but not the caller's to change.
    """
    project = get_row(Project, project_id, "project")
    if not can_read(user, project):
        raise NotFoundError(f"project {project_id} not found")
    if write and (user is None or not can_write(user, project)):
        raise PermissionDeniedError("only the project's owner may change it")
    return project


def list_projects(user: User | None, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """The projects the caller may read (without an account: the public ones), oldest first."""
    stmt = sa.select(Project)
    if user is None:
        stmt = stmt.where(Project.is_public)
    elif user.role not in (Role.ADMIN.value, Role.OPERATOR.value):
        stmt = stmt.where(sa.or_(Project.owner_id == user.id, Project.is_public))
    return fetch_page(
        stmt, [Project.id], descending=False, limit=limit, cursor=cursor, kinds=(int,)
    )


def create_project(user: User, data: dict[str, Any]) -> Project:
    """A new project owned by the caller."""
    project = Project(owner_id=user.id, **data)
    db.session.add(project)
    db.session.commit()
    return project


def update_row(row: Any, data: dict[str, Any], *, commit: bool = True) -> Any:
    """Apply a validated partial update and commit (or only flush, inside a larger write)."""
    for name, value in data.items():
        setattr(row, name, value)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return row


def delete_project(user: User, project_id: int) -> None:
    """Delete a project and everything under it, then (once that committed) the files its
    jobs rendered.

    :raises ConflictError: while one of its jobs is queued or running.
    """
    project = visible_project(user, project_id, write=True)
    active = db.session.scalar(
        sa.select(sa.func.count(Job.id)).where(
            Job.project_id == project.id, Job.status.in_(ACTIVE_JOB_STATUSES)
        )
    )
    if active:
        raise ConflictError("the project has jobs in progress; cancel them first")
    artifacts = project_artifacts(project.id)
    db.session.delete(project)
    db.session.commit()
    remove_project_artifacts(artifacts)


def list_characters(
    user: User, project_id: int, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of a visible project's characters.

    :raises NotFoundError: when the project is missing or not visible.
    """
    project = visible_project(user, project_id)
    stmt = sa.select(Character).where(Character.project_id == project.id)
    return fetch_page(
        stmt, [Character.id], descending=False, limit=limit, cursor=cursor, kinds=(int,)
    )


def list_episodes(
    user: User | None, project_id: int, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of a visible project's episodes.

    :raises NotFoundError: when the project is missing or not visible.
    """
    project = visible_project(user, project_id)
    stmt = sa.select(Episode).where(Episode.project_id == project.id)
    return fetch_page(
        stmt, [Episode.id], descending=False, limit=limit, cursor=cursor, kinds=(int,)
    )


def list_scenes(
    user: User | None, episode_id: int, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of a visible episode's scenes, in id order (each carries its `order`).

    :raises NotFoundError: when the episode is missing or not visible.
    """
    episode = visible_episode(user, episode_id)
    stmt = sa.select(Scene).where(Scene.episode_id == episode.id)
    return fetch_page(stmt, [Scene.id], descending=False, limit=limit, cursor=cursor, kinds=(int,))


def visible_character(user: User, character_id: int, *, write: bool = False) -> Character:
    """A character of a project the caller may read (or change).

    :raises NotFoundError: when missing or not visible.
    :raises PermissionDeniedError: when visible but not the caller's to change.
    """
    character = get_row(Character, character_id, "character")
    with hidden_as("character", character_id):
        visible_project(user, character.project_id, write=write)
    return character


def save_character(
    project: Project, data: dict[str, Any], character: Character | None = None
) -> Character:
    """Create or update a character; names are unique within a project. A LoRA no online
    node has is allowed, with a warning.

    :raises ConflictError: when the name is taken.
    """
    name = data.get("name")
    if name is not None and db.session.scalar(
        sa.select(Character.id).where(
            Character.project_id == project.id,
            Character.name == name,
            Character.id != (character.id if character else 0),
        )
    ):
        raise ConflictError(
            f"a character named {name!r} already exists", fields={"name": "already taken"}
        )
    if character is None:
        character = Character(project_id=project.id)
        db.session.add(character)
    saved = update_row(character, data)
    saved.warnings = lora_warnings(saved.lora_name)  # the response's, never stored
    return saved


def delete_character(character: Character) -> None:
    """Delete a character no scene gives a line to.

    :raises ConflictError: naming the scenes whose dialogue it speaks (their lines would be
        left with no speaker).
    """
    # Locked first: a scene write naming it as a speaker (which key-share locks it, see
    # checked_dialogue) either commits before this check or finds it gone.
    db.session.execute(
        sa.select(Character.id).where(Character.id == character.id).with_for_update()
    )
    speaking = speaking_scenes(character)
    if speaking:
        raise ConflictError(
            f"character {character.id} speaks lines in scenes {speaking}; change their "
            "dialogue first",
            fields={"dialogue": f"spoken in scenes {speaking}"},
        )
    delete_row(character)


def speaking_scenes(character: Character) -> list[int]:
    """The ids of the scenes of the character's project in which it speaks a line."""
    return list(
        db.session.scalars(
            sa.select(Scene.id)
            .join(Episode)
            .where(
                Episode.project_id == character.project_id,
                Scene.dialogue.contains([{"character_id": character.id}]),
            )
            .order_by(Scene.id)
        )
    )


def visible_episode(user: User | None, episode_id: int, *, write: bool = False) -> Episode:
    """An episode of a project the caller may read (or change).

    :raises NotFoundError: when missing or not visible.
    :raises PermissionDeniedError: when visible but not the caller's to change.
    """
    episode = get_row(Episode, episode_id, "episode")
    with hidden_as("episode", episode_id):
        visible_project(user, episode.project_id, write=write)
    return episode


def save_episode(project: Project, data: dict[str, Any], episode: Episode | None = None) -> Episode:
    """Create or update an episode; numbers are unique within a project.

    :raises ConflictError: when the number is taken.
    """
    number = data.get("number")
    if number is not None and db.session.scalar(
        sa.select(Episode.id).where(
            Episode.project_id == project.id,
            Episode.number == number,
            Episode.id != (episode.id if episode else 0),
        )
    ):
        raise ConflictError(f"episode {number} already exists", fields={"number": "already taken"})
    if episode is None:
        episode = Episode(project_id=project.id)
        db.session.add(episode)
    return update_row(episode, data)


def next_episode_number(project_id: int, *, field: str) -> int:
    """The number after the project's last episode, for rows made at "last + 1".

    :raises ConflictError: naming `field` when it would pass MAX_EPISODE_NUMBER (the API's
        own bound on numbers, which a project's last episode may already have).
    """
    hold_numbering(EPISODE_NUMBERING_LOCK, project_id)
    last = db.session.scalar(
        sa.select(sa.func.max(Episode.number)).where(Episode.project_id == project_id)
    )
    number = (last or 0) + 1
    if number > MAX_EPISODE_NUMBER:
        raise ConflictError(
            f"the project's last episode is number {last}; episodes go up to "
            f"{MAX_EPISODE_NUMBER}, so there is no next one",
            fields={field: f"no episode number after {last} (at most {MAX_EPISODE_NUMBER})"},
        )
    return number


def hold_numbering(lock_class: int, parent_id: int) -> None:
    """Hold the numbering of one parent row's children until this transaction ends."""
    key = sa.func.hashtext(str(parent_id))  # two-key form: int4 keys, ids are bigint
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_class, key)))


def next_scene_order(episode_id: int, count: int, *, field: str) -> int:
    """The first of `count` orders after the episode's last scene.

    :raises ConflictError: naming `field` when the last would pass MAX_SCENE_ORDER.
    """
    hold_numbering(SCENE_NUMBERING_LOCK, episode_id)
    last = db.session.scalar(
        sa.select(sa.func.max(Scene.order)).where(Scene.episode_id == episode_id)
    )
    first = 0 if last is None else last + 1
    if first + count - 1 > MAX_SCENE_ORDER:
        raise ConflictError(
            f"{count} more scenes after order {last} would pass the highest order, "
            f"{MAX_SCENE_ORDER}",
            fields={field: f"no room for {count} scenes after order {last}"},
        )
    return first


def visible_scene(user: User | None, scene_id: int, *, write: bool = False) -> Scene:
    """A scene of a project the caller may read (or change).

    :raises NotFoundError: when missing or not visible.
    :raises PermissionDeniedError: when visible but not the caller's to change.
    """
    scene = get_row(Scene, scene_id, "scene")
    with hidden_as("scene", scene_id):
        visible_episode(user, scene.episode_id, write=write)
    return scene


def project_characters(project_id: int, character_ids: list[int]) -> list[Character]:
    """The project's characters with these ids.

    :raises ValidationError: naming `character_ids` when one is not the project's.
    """
    characters = list(
        db.session.scalars(
            sa.select(Character).where(
                Character.id.in_(character_ids), Character.project_id == project_id
            )
        )
    )
    missing = sorted(set(character_ids) - {c.id for c in characters})
    if missing:
        raise ValidationError(
            "characters must belong to the project",
            fields={"character_ids": f"not in this project: {missing}"},
        )
    return characters


def save_scene(
    episode: Episode, data: dict[str, Any], scene: Scene | None = None, *, commit: bool = True
) -> Scene:
    """Create or update a scene; its characters must belong to the same project.

    :raises ValidationError: when a character id (or a speaker) is not in the project, a line
        falls after the scene's end, the scene is longer than the farm allows, or the mood or
        an effect is not in the audio library.
    :raises ConflictError: when another scene already has the order.
    """
    check_scene_audio(data)
    data = dict(data)
    check_scene_length(data.get("duration_s"))
    check_scene_fits(episode, data, scene)
    character_ids = data.pop("character_ids", None)
    dialogue = checked_dialogue(episode, data, scene)
    if dialogue is not None:
        data["dialogue"] = dialogue
    order = data.get("order")
    if order is not None and db.session.scalar(
        sa.select(Scene.id).where(
            Scene.episode_id == episode.id,
            Scene.order == order,
            Scene.id != (scene.id if scene else 0),
        )
    ):
        raise ConflictError(
            f"a scene with order {order} already exists", fields={"order": "already taken"}
        )
    characters = None
    if character_ids is not None:
        characters = project_characters(episode.project_id, character_ids)
    if scene is None:
        scene = Scene(episode_id=episode.id)
        db.session.add(scene)
    if characters is not None:
        scene.characters = characters
    return update_row(scene, data, commit=commit)


def check_scene_fits(episode: Episode, data: dict[str, Any], scene: Scene | None) -> None:
    """Refuse a sound cue past the scene's rendered end, or a generated transition shorter than
    a frame.

    :raises ValidationError: naming `sfx_cues.<i>.at_s` or `transition_s`.
    """
    duration = data.get("duration_s", scene.duration_s if scene else None)
    cues = data.get("sfx_cues", scene.sfx_cues if scene else [])
    if duration is None:
        return
    fields = cue_problems(duration, cues, episode.fps)
    transition = data.get("transition", scene.transition if scene else "cut")
    transition_s = data.get("transition_s", scene.transition_s if scene else 0.0)
    if transition == Transition.GENERATED and not bridge_frames(transition_s, episode.fps):
        fields["transition_s"] = (
            f"a generated transition needs at least one frame (1/{episode.fps} s)"
        )
    if fields:
        raise ValidationError("the scene does not fit what this farm renders", fields=fields)


def check_scene_length(duration_s: float | None) -> None:
    """Refuse a scene longer than the farm's `scene_max_s` setting.

    :raises ValidationError: naming `duration_s`.
    """
    longest = get_setting("scene_max_s")
    if duration_s is not None and duration_s > longest:
        raise ValidationError(
            f"scenes may last at most {longest:g} s on this farm",
            fields={"duration_s": f"must be at most {longest:g}"},
        )


def reorder_scenes(episode: Episode, scene_ids: list[int]) -> list[Scene]:
    """Give the episode's scenes the order of `scene_ids` (which must name each exactly once).

    :raises ValidationError: when the list is not a permutation of the episode's scenes.
    """
    scenes = {s.id: s for s in episode.scenes}
    if len(scene_ids) != len(set(scene_ids)) or set(scene_ids) != set(scenes):
        raise ValidationError(
            "scene_ids must list every scene of the episode exactly once",
            fields={"scene_ids": "not a permutation of the episode's scenes"},
        )
    # The unique (episode, order) constraint is deferred, so swaps inside one commit are fine.
    for index, scene_id in enumerate(scene_ids):
        scenes[scene_id].order = index
    db.session.commit()
    return [scenes[i] for i in scene_ids]


def delete_row(row: Any) -> None:
    """Delete a row the caller may change and commit."""
    db.session.delete(row)
    db.session.commit()
