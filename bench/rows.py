"""Rows a benchmark renders: an owner, a project and an episode of short scenes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from shared.db import db
from shared.models import Episode, Project, Scene, User


@dataclass(frozen=True)
class BenchEpisode:
    """The ids of a benchmark's owner, project and scenes (in order), and the owner's role."""

    owner_id: int
    role: str
    project_id: int
    scene_ids: list[int]


def make_episode(name: str, scenes: int, size: int) -> BenchEpisode:
    """A new owner with a project and a `size`x`size` 8 fps episode of `scenes` half-second
    scenes, committed."""
    owner = User(email=f"{name}-{time.time_ns()}@example.com", password_hash="x")
    db.session.add(owner)
    db.session.flush()
    project = Project(owner_id=owner.id, name=name)
    db.session.add(project)
    db.session.flush()
    episode = Episode(project_id=project.id, number=1, title=name, width=size, height=size, fps=8)
    db.session.add(episode)
    db.session.flush()
    rows = [
        {"episode_id": episode.id, "order": i, "prompt": f"shot {i}", "duration_s": 0.5}
        for i in range(scenes)
    ]
    scene_ids = list(
        db.session.scalars(sa.insert(Scene).returning(Scene.id, sort_by_parameter_order=True), rows)
    )
    db.session.commit()
    return BenchEpisode(owner.id, owner.role, project.id, scene_ids)
