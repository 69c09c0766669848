"""Superseded outputs: a later attempt's success dates the earlier attempts' outputs of the same
stage, and the hourly clean-up removes them (rows, then files) once the farm has kept them
`superseded_output_days`; a character's reference sheet stays, and 0 keeps everything."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import db
from shared.models import Asset, Character, Job, StageRun
from shared.models.columns import utcnow
from shared.settings_store import forget_cached, set_setting
from tasks.artifact_cleanup import clean_superseded
from tasks.pipeline.leases import Owner
from tasks.pipeline.recording import record_success
from tests.factories import make_asset, make_character, make_job, make_scene, make_stage_run
from workers.gpu_stage import Artifact
from workers.storage import LocalStore

OWNER = Owner("host", 1, "task-1")


def remove_job(engine, job_id: int) -> None:
    """Delete a test's job with its runs and outputs (a queued job left behind would count
    against its owner's limits in later tests)."""
    with Session(engine) as session, session.begin():
        session.execute(sa.delete(Job).where(Job.id == job_id))


@pytest.fixture
def rows(engine):
    """A job whose first scene's keyframe failed once (attempt 1, with an output) and runs again
    (attempt 2, held by OWNER), beside a second scene's keyframe and the first scene's animate,
    each with an output: {name: asset id}, and the running attempt's id."""
    with Session(engine) as session, session.begin():
        job = make_job(session)
        first, second = make_scene(session), make_scene(session)

        def run_with_output(name: str, **fields) -> StageRun:
            run = make_stage_run(session, job_id=job.id, **fields)
            make_asset(session, job_id=job.id, stage_run_id=run.id, uri=f"jobs/{job.id}/{name}")
            return run

        run_with_output("tried", scene_id=first.id, status="failed")
        run_with_output("other-scene", scene_id=second.id, status="succeeded")
        run_with_output("other-stage", scene_id=first.id, stage="animate", status="succeeded")
        running = make_stage_run(
            session, job_id=job.id, scene_id=first.id, attempt=2, status="running",
            lease_owner=str(OWNER),
        )  # fmt: skip
        session.flush()
        job_id, running_id = job.id, running.id
    yield job_id, running_id
    remove_job(engine, job_id)


def superseded(engine, job_id: int) -> dict[str, bool]:
    """Whether each of the job's outputs is dated superseded, by its name."""
    with Session(engine) as session:
        assets = session.scalars(sa.select(Asset).where(Asset.job_id == job_id))
        return {a.uri.rsplit("/", 1)[1]: a.superseded_at is not None for a in assets}


def test_a_later_attempts_success_dates_only_its_stages_earlier_outputs(engine, rows):
    job_id, running_id = rows
    retried = Artifact("image", f"jobs/{job_id}/retried", {"size_bytes": 1})
    with Session(engine) as session, session.begin():
        assert record_success(session, running_id, OWNER, [retried])
    assert superseded(engine, job_id) == {
        "tried": True,
        "other-scene": False,
        "other-stage": False,
        "retried": False,
    }


@pytest.fixture
def store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path)


@pytest.fixture
def outputs(engine, store):
    """Outputs with files on disk, superseded 40 and 10 days ago, never, and 40 days ago but a
    character's reference: {name: key}."""
    now = utcnow()
    ages = {"old": 40, "recent": 10, "current": None, "reference": 40}
    keys = {}
    with Session(engine) as session, session.begin():
        job = make_job(session)
        for name, days in ages.items():
            keys[name] = f"jobs/{job.id}/scene-1/keyframe/a1/{name}.png"
            store.path(keys[name]).parent.mkdir(parents=True, exist_ok=True)
            store.path(keys[name]).write_bytes(b"png")
            stamp = now - timedelta(days=days) if days else None
            asset = make_asset(session, job_id=job.id, uri=keys[name], superseded_at=stamp)
        make_character(session, project_id=job.project_id, reference_asset_id=asset.id)
        job_id = job.id
    yield keys
    remove_job(engine, job_id)


def kept(engine, store: LocalStore, keys: dict[str, str]) -> dict[str, tuple[bool, bool]]:
    """Whether each output still has its row and its file, by name."""
    with Session(engine) as session:
        uris = set(session.scalars(sa.select(Asset.uri).where(Asset.uri.in_(keys.values()))))
    return {name: (key in uris, store.exists(key)) for name, key in keys.items()}


def test_the_clean_up_removes_outputs_superseded_longer_than_the_farm_keeps_them(
    app, engine, store, outputs
):
    with app.app_context():
        assert clean_superseded(engine, store) == 1
    assert kept(engine, store, outputs) == {
        "old": (False, False),
        "recent": (True, True),
        "current": (True, True),
        "reference": (True, True),
    }


def test_the_clean_up_goes_batch_by_batch_and_removes_emptied_attempt_folders(
    app, engine, store, outputs
):
    with Session(engine) as session, session.begin():
        session.execute(
            sa.update(Asset)
            .where(Asset.uri == outputs["recent"])
            .values(superseded_at=utcnow() - timedelta(days=31))
        )
    with app.app_context():
        assert clean_superseded(engine, store, limit=1) == 2
    assert store.path(outputs["current"]).parent.is_dir()  # still holds the current output
    with Session(engine) as session, session.begin():
        session.execute(sa.update(Asset).values(superseded_at=utcnow() - timedelta(days=90)))
        session.execute(
            sa.update(Character)
            .where(Character.reference_asset_id.in_(sa.select(Asset.id)))
            .values(reference_asset_id=None)
        )
    with app.app_context():
        assert clean_superseded(engine, store, limit=1) == 2
    assert not store.path(outputs["current"]).parent.exists()


def test_zero_days_keeps_every_superseded_output(app, engine, store, outputs):
    with app.app_context():
        set_setting(db.session, "superseded_output_days", 0, None)
        db.session.commit()
        forget_cached()
        try:
            assert clean_superseded(engine, store) == 0
        finally:
            db.session.execute(sa.text("TRUNCATE farm_settings, setting_changes"))
            db.session.commit()
            forget_cached()
    assert all(row and file for row, file in kept(engine, store, outputs).values())
