"""Echo Brain's kept answers: listing them, and accepting one into the production."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import ConflictError, NotFoundError
from shared.models import EchoFeature, Episode, Suggestion, User
from shared.models.columns import utcnow
from web.identity import is_staff
from web.paging import fetch_page
from web.production import (
    get_row,
    next_episode_number,
    next_scene_order,
    save_scene,
    visible_episode,
    visible_project,
    visible_scene,
)


def visible_suggestion(user: User, suggestion_id: int) -> Suggestion:
    """A suggestion the caller asked for (staff: any).

    :raises NotFoundError: when it is missing or someone else's.
    """
    row = get_row(Suggestion, suggestion_id, "suggestion")
    if row.owner_id != user.id and not is_staff(user):
        raise NotFoundError(f"suggestion {suggestion_id} not found")
    return row


def list_suggestions(
    user: User, project_id: int, *, feature: str | None, limit: int, cursor: str | None
) -> dict[str, Any]:
    """A page of a visible project's suggestions, newest first: the caller's own (staff: all)."""
    project = visible_project(user, project_id)
    stmt = sa.select(Suggestion).where(Suggestion.project_id == project.id)
    if not is_staff(user):
        stmt = stmt.where(Suggestion.owner_id == user.id)
    if feature:
        stmt = stmt.where(Suggestion.feature == feature)
    return fetch_page(stmt, [Suggestion.id], descending=True, limit=limit, cursor=cursor,
                      kinds=(int,))  # fmt: skip


def accept(user: User, suggestion_id: int, *, replace: bool) -> dict[str, Any]:
    """Write an accepted suggestion into the production: scenes become scenes, a continuation a
    new episode, dialogue the scene's lines; other answers are only marked accepted.

    :raises ConflictError: when it was accepted already, or the scene has lines and `replace`
        is not set.
    :raises ValidationError: when what it would write no longer fits (a shortened scene).
    :raises PermissionDeniedError: when the project is not the caller's to change.
    """
    row = visible_suggestion(user, suggestion_id)
    if row.accepted:
        raise ConflictError(f"suggestion {row.id} was accepted already")
    written: dict[str, Any] = {"episode_id": None, "scene_ids": []}
    if row.feature == EchoFeature.SCENES:
        episode = visible_episode(user, row.episode_id, write=True)
        written["scene_ids"] = append_scenes(episode, row.output["scenes"])
    elif row.feature == EchoFeature.CONTINUATION:
        source = visible_episode(user, row.episode_id, write=True)
        episode = next_episode(source, row.output["title"])
        written["episode_id"] = episode.id
        written["scene_ids"] = append_scenes(episode, row.output["scenes"])
    elif row.feature == EchoFeature.DIALOGUE:
        scene = visible_scene(user, row.scene_id, write=True)
        if scene.dialogue and not replace:
            raise ConflictError(
                f"scene {scene.id} has dialogue already; accept with replace to overwrite it",
                fields={"replace": "required: the scene has lines"},
            )
        save_scene(scene.episode, {"dialogue": row.output["lines"]}, scene, commit=False)
        written["scene_ids"] = [scene.id]
    elif row.project_id is not None:
        visible_project(user, row.project_id, write=True)
    row.accepted = True
    row.accepted_at = utcnow()
    db.session.commit()
    return {"suggestion": row, **written}


def append_scenes(episode: Episode, scenes: list[dict[str, Any]]) -> list[int]:
    """Add scenes after the episode's last (flush only); their ids.

    :raises ConflictError: naming `order` when they would pass the highest scene order.
    """
    start = next_scene_order(episode.id, len(scenes), field="order")
    rows = [
        save_scene(episode, {**scene, "order": start + i}, commit=False)
        for i, scene in enumerate(scenes)
    ]
    return [r.id for r in rows]


def next_episode(source: Episode, title: str) -> Episode:
    """A new episode after the project's last, at the source episode's rate and size.

    :raises ConflictError: naming `number` when the project's last episode has the highest.
    """
    number = next_episode_number(source.project_id, field="number")
    data = {"number": number, "title": title, "fps": source.fps,
            "width": source.width, "height": source.height}  # fmt: skip
    episode = Episode(project_id=source.project_id)
    db.session.add(episode)
    for name, value in data.items():
        setattr(episode, name, value)
    db.session.flush()
    return episode
