"""Pipeline tests run real workers, so their rows are committed and truncated afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask

from shared.db import db
from shared.models import Character, Episode, Job, Project, Scene, User
from tasks.pipeline.workflow_store import seed_default_workflows
from tests.support.farm import Farm, running_farm

FAST_OPTIONS = {"steps": 3, "frames": 4}  # the episode is 64x64 at 8 fps
TABLES = (
    "assets",
    "stage_runs",
    "jobs",
    "scene_characters",
    "scenes",
    "episodes",
    "characters",
    "projects",
    "users",
    "worker_nodes",
    "library_entries",
)


@pytest.fixture(scope="module")
def farm(settings, app: Flask, log_dir, tmp_path_factory, celery_app) -> Iterator[Farm]:
    """Two emulated GPU nodes with a worker each, a CPU worker and beat."""
    with app.app_context():
        seed_default_workflows(db.session)
        db.session.commit()
    root = tmp_path_factory.mktemp("farm")
    with running_farm(settings, log_dir, root, nodes=("node-a", "node-b")) as running:
        yield running
    truncate(app)


def truncate(app: Flask) -> None:
    """Empty the tables the farm tests wrote (the workflows stay seeded). Ids keep counting, so
    a message left in the broker by these tests can never name a later test's rows."""
    with app.app_context():
        db.session.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        db.session.commit()


@dataclass
class Production:
    """Committed rows of a small production."""

    owner_id: int
    project_id: int
    episode_id: int
    scene_ids: list[int]


@pytest.fixture
def production(app: Flask) -> Production:
    """A project with two characters and a three-scene episode (cut, crossfade, cut)."""
    with app.app_context():
        session = db.session
        owner = User(email=f"owner{id(session)}-{_next()}@example.com", password_hash="x")
        session.add(owner)
        session.flush()
        project = Project(owner_id=owner.id, name="Neon", style="anime")
        session.add(project)
        session.flush()
        aki = Character(
            project_id=project.id,
            name="Aki",
            lora_name="character_v1.safetensors",
            trigger_words="chr_aki",
        )
        episode = Episode(
            project_id=project.id, number=1, title="Pilot", width=64, height=64, fps=8
        )
        session.add_all([aki, episode])
        session.flush()
        scenes = [
            Scene(
                episode_id=episode.id,
                order=i,
                prompt=f"scene {i} in the rain",
                duration_s=1.0,
                mood=mood,
                transition=transition,
                transition_s=0.25 if transition == "crossfade" else 0.0,
                characters=[aki],
            )
            for i, (mood, transition) in enumerate(
                [("calm", "cut"), ("tense", "crossfade"), ("happy", "cut")], start=1
            )
        ]
        session.add_all(scenes)
        session.commit()
        return Production(owner.id, project.id, episode.id, [s.id for s in scenes])


_counter = iter(range(1, 1 << 30))


def _next() -> int:
    return next(_counter)


def job_row(app: Flask, job_id: int) -> Job:
    """A fresh copy of a job row (with its stage runs loaded)."""
    with app.app_context():
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        _ = [(r.assets, r.status) for r in job.stage_runs]
        db.session.expunge_all()
        return job
