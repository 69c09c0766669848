"""Pipeline tests run real workers, so their rows are committed and truncated afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from shared.db import db
from shared.models import Asset, Character, Episode, Job, Project, Scene, StageRun, User
from tasks.pipeline.workflow_store import seed_default_workflows
from tests.factories import make_job, make_stage_run
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


@pytest.fixture
def engine(app):
    with app.app_context():
        return db.engine


@pytest.fixture
def job_rows(engine):
    """A committed job with three stage rows: (job id, stage row ids)."""
    with Session(engine) as session, session.begin():
        job = make_job(session)
        runs = [make_stage_run(session, job_id=job.id, stage=s) for s in ("keyframe", "animate")]
        runs.append(make_stage_run(session, job_id=job.id, stage="compile", scene_id=None))
        ids = (job.id, [r.id for r in runs], job.project_id, job.owner_id)
    yield ids[0], ids[1]
    with Session(engine) as session, session.begin():
        session.execute(sa.delete(Asset).where(Asset.job_id == ids[0]))
        session.execute(sa.delete(StageRun).where(StageRun.job_id == ids[0]))
        session.execute(sa.delete(Job).where(Job.id == ids[0]))
        session.execute(sa.delete(Project).where(Project.id == ids[2]))
        session.execute(sa.delete(User).where(User.id == ids[3]))
