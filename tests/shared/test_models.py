"""Postgres itself rejects rows that break the data model's rules."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError

from shared.models import Character, Episode, Job, Project, Scene, StageRun, User
from tests import factories as f


def rejected(session, statement: str, **params) -> None:
    """Assert Postgres refuses a raw statement (bypassing ORM-side checks)."""
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.execute(sa.text(statement), params)


def refused_on_flush(session, make, **fields) -> None:
    """Assert building a row with these fields is refused when it reaches the database."""
    with pytest.raises((IntegrityError, StatementError)):
        with session.begin_nested():
            make(session, **fields)


class TestStatusSets:
    @pytest.mark.parametrize(
        "table, column",
        [
            ("jobs", "status"),
            ("stage_runs", "status"),
            ("jobs", "kind"),
            ("stage_runs", "stage"),
            ("users", "role"),
            ("worker_nodes", "status"),
        ],
    )
    def test_values_outside_the_closed_set_are_rejected(self, db_session, table, column):
        job = f.make_job(db_session)
        run = f.make_stage_run(db_session, job_id=job.id)
        node = f.make_worker_node(db_session)
        row_id = {
            "jobs": job.id,
            "stage_runs": run.id,
            "users": job.owner_id,
            "worker_nodes": node.id,
        }[table]
        rejected(db_session, f"UPDATE {table} SET {column} = 'bogus' WHERE id = :id", id=row_id)

    def test_retrying_is_a_stage_state_but_not_a_job_state(self, db_session):
        run = f.make_stage_run(db_session)
        db_session.execute(
            sa.text("UPDATE stage_runs SET status = 'retrying' WHERE id = :id"), {"id": run.id}
        )
        rejected(db_session, "UPDATE jobs SET status = 'retrying' WHERE id = :id", id=run.job_id)


class TestNumbers:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE jobs SET priority = 10",
            "UPDATE jobs SET priority = -1",
            "UPDATE jobs SET progress = 1.5",
            "UPDATE stage_runs SET attempt = 0",
            "UPDATE stage_runs SET deliveries = -1",
            "UPDATE stage_runs SET step = -1",
            "UPDATE stage_runs SET progress = -0.1",
        ],
    )
    def test_job_and_stage_numbers_out_of_range(self, db_session, statement):
        f.make_stage_run(db_session)
        rejected(db_session, statement)

    @pytest.mark.parametrize(
        "field, value",
        [
            ("duration_s", 0),
            ("duration_s", -2),
            ("transition_s", -0.5),
            ("seed", -1),
            ("order", -1),
            ("transition", "wipe"),
        ],
    )
    def test_scene_numbers_and_transition(self, db_session, field, value):
        refused_on_flush(db_session, f.make_scene, **{field: value})

    @pytest.mark.parametrize(
        "field, value",
        [("size_bytes", -1), ("frames", -1), ("fps", 0), ("duration_s", -1), ("width", 0)],
    )
    def test_asset_media_facts_cannot_be_negative(self, db_session, field, value):
        refused_on_flush(db_session, f.make_asset, **{field: value})

    def test_other_counts(self, db_session):
        refused_on_flush(db_session, f.make_episode, number=0)
        refused_on_flush(db_session, f.make_episode, fps=0)
        refused_on_flush(db_session, f.make_workflow, version=0)
        refused_on_flush(db_session, f.make_worker_node, vram_total=-1)
        refused_on_flush(db_session, f.make_library_entry, duration_s=0)
        refused_on_flush(db_session, f.make_character, lora_strength=50)


class TestUniqueness:
    def test_scene_order_is_unique_per_episode(self, db_session):
        episode = f.make_episode(db_session)
        f.make_scene(db_session, episode_id=episode.id, order=1)
        with pytest.raises(IntegrityError):
            with db_session.begin_nested():
                f.make_scene(db_session, episode_id=episode.id, order=1)
                # The constraint is deferred (so reorders can swap); check it now.
                db_session.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))

    def test_two_scenes_can_swap_order_in_one_transaction(self, db_session):
        episode = f.make_episode(db_session)
        a = f.make_scene(db_session, episode_id=episode.id, order=1)
        b = f.make_scene(db_session, episode_id=episode.id, order=2)
        a.order, b.order = 2, 1
        db_session.flush()
        db_session.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))
        assert [s.order for s in (a, b)] == [2, 1]

    def test_same_scene_order_in_another_episode_is_fine(self, db_session):
        f.make_scene(db_session, order=1)
        f.make_scene(db_session, order=1)

    def test_emails_are_unique_ignoring_case(self, db_session):
        f.make_user(db_session, email="Ann@Example.com")
        refused_on_flush(db_session, f.make_user, email="ann@example.com")

    def test_episode_number_and_character_name_unique_per_project(self, db_session):
        project = f.make_project(db_session)
        f.make_episode(db_session, project_id=project.id, number=1)
        refused_on_flush(db_session, f.make_episode, project_id=project.id, number=1)
        f.make_character(db_session, project_id=project.id, name="Aki")
        refused_on_flush(db_session, f.make_character, project_id=project.id, name="Aki")

    def test_one_stage_run_per_job_stage_scene_attempt(self, db_session):
        scene = f.make_scene(db_session)
        job = f.make_job(db_session)
        f.make_stage_run(db_session, job_id=job.id, scene_id=scene.id)
        refused_on_flush(db_session, f.make_stage_run, job_id=job.id, scene_id=scene.id)
        f.make_stage_run(db_session, job_id=job.id, scene_id=scene.id, attempt=2)

    def test_one_episode_wide_stage_run_per_attempt(self, db_session):
        job = f.make_job(db_session)
        f.make_stage_run(db_session, job_id=job.id, stage="compile")
        refused_on_flush(db_session, f.make_stage_run, job_id=job.id, stage="compile")

    def test_prompt_ids_are_unique(self, db_session):
        pid = "6f1c1f3c-6d0a-5b6e-9a55-3f0e3c2d1a00"
        f.make_stage_run(db_session, prompt_id=pid)
        refused_on_flush(db_session, f.make_stage_run, prompt_id=pid)

    def test_one_active_version_per_workflow_name(self, db_session):
        f.make_workflow(db_session, name="keyframe", version=1, is_active=True)
        f.make_workflow(db_session, name="keyframe", version=2, is_active=False)
        refused_on_flush(db_session, f.make_workflow, name="keyframe", version=3, is_active=True)
        refused_on_flush(db_session, f.make_workflow, name="keyframe", version=1)


class TestDeletes:
    def test_deleting_a_project_deletes_its_production_and_jobs(self, db_session):
        scene = f.make_scene(db_session)
        project_id = db_session.get(Episode, scene.episode_id).project_id
        character = f.make_character(db_session, project_id=project_id)
        job = f.make_job(
            db_session, project_id=project_id, owner_id=db_session.get(Project, project_id).owner_id
        )
        f.make_stage_run(db_session, job_id=job.id, scene_id=scene.id)
        ids = ((Scene, scene.id), (Character, character.id), (Job, job.id))
        db_session.execute(sa.delete(Project).where(Project.id == project_id))
        db_session.expire_all()
        for model, row_id in ids:
            assert db_session.get(model, row_id) is None
        assert (
            db_session.scalar(
                sa.select(sa.func.count()).select_from(StageRun).where(StageRun.job_id == ids[2][1])
            )
            == 0
        )

    def test_an_owner_with_projects_cannot_be_deleted(self, db_session):
        project = f.make_project(db_session)
        with pytest.raises(IntegrityError):
            with db_session.begin_nested():
                db_session.execute(sa.delete(User).where(User.id == project.owner_id))

    def test_deleting_a_scene_keeps_its_render_history(self, db_session):
        scene = f.make_scene(db_session)
        run_id = f.make_stage_run(db_session, scene_id=scene.id).id
        db_session.execute(sa.delete(Scene).where(Scene.id == scene.id))
        db_session.expire_all()
        assert db_session.get(StageRun, run_id).scene_id is None

    def test_deleting_an_asset_clears_a_character_reference(self, db_session):
        asset = f.make_asset(db_session)
        character_id = f.make_character(db_session, reference_asset_id=asset.id).id
        db_session.execute(sa.text("DELETE FROM assets WHERE id = :id"), {"id": asset.id})
        db_session.expire_all()
        assert db_session.get(Character, character_id).reference_asset_id is None


def test_job_listing_indexes_exist(db_session):
    names = set(
        db_session.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'jobs'"))
    )
    assert {"ix_jobs_status_created", "ix_jobs_owner_created", "ix_jobs_created"} <= names


def test_an_api_token_hash_is_unique_and_goes_with_its_user(db_session):
    from shared.models import ApiToken

    user = f.make_user(db_session)
    db_session.add(ApiToken(user_id=user.id, name="ci", token_hash="h1"))
    db_session.flush()
    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            db_session.add(ApiToken(user_id=user.id, name="again", token_hash="h1"))
            db_session.flush()
    db_session.execute(sa.delete(User).where(User.id == user.id))
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_eta_cannot_be_negative(db_session):
    f.make_job(db_session)
    rejected(db_session, "UPDATE jobs SET eta_s = -1")
