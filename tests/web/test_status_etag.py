"""A poller that asks again without a change gets a 304 without a body; any change to the
report (a stage's progress, live or in its row) gives a 200 with a new ETag."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.db import db
from shared.models import User
from shared.progress import ProgressBus
from tests import factories
from tests.web.conftest import Api
from web.credentials import issue_access_token


def make_running_job(db_session, world):
    """A running job with one keyframe stage."""
    job = factories.make_job(
        db_session,
        project_id=world.rows["project"].id,
        owner_id=world.users["owner"].id,
        status="running",
    )
    run = factories.make_stage_run(db_session, job_id=job.id, scene_id=world.rows["scene"].id)
    db_session.commit()
    return job, run


def test_an_unchanged_report_answers_304_without_a_body(as_role, world, db_session):
    job, _ = make_running_job(db_session, world)
    owner = as_role("owner")
    url = f"/api/anime/generation/{job.id}/status"

    first = owner.get(url)
    etag = first.headers["ETag"]
    again = owner.get(url, headers={"If-None-Match": etag})

    assert first.status_code == 200 and etag.startswith('"')
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag


def test_a_changed_report_answers_200_with_a_new_etag(app, as_role, world, db_session):
    job, run = make_running_job(db_session, world)
    owner = as_role("owner")
    url = f"/api/anime/generation/{job.id}/status"
    etag = owner.get(url).headers["ETag"]

    ProgressBus.from_url(app.config["SETTINGS"].redis_url).stage_event(
        job.id, stage_id=run.id, stage="keyframe", status="running", progress=0.5
    )
    live = owner.get(url, headers={"If-None-Match": etag})
    run.status = "succeeded"
    db_session.commit()
    stored = owner.get(url, headers={"If-None-Match": live.headers["ETag"]})

    assert live.status_code == 200 and live.headers["ETag"] != etag
    assert stored.status_code == 200 and stored.headers["ETag"] != live.headers["ETag"]


def test_a_304_tells_nothing_to_another_user(as_role, world, db_session):
    job, _ = make_running_job(db_session, world)
    url = f"/api/anime/generation/{job.id}/status"
    etag = as_role("owner").get(url).headers["ETag"]

    assert as_role("other").get(url, headers={"If-None-Match": etag}).status_code == 404


def test_a_new_output_changes_the_kept_answer(as_role, world, db_session):
    job, run = make_running_job(db_session, world)
    owner = as_role("owner")
    url = f"/api/anime/generation/{job.id}/status"
    before = owner.get(url)

    factories.make_asset(db_session, job_id=job.id, stage_run_id=run.id)
    db_session.commit()
    after = owner.get(url, headers={"If-None-Match": before.headers["ETag"]})

    assert before.json["stages"][0]["outputs"] == []
    assert after.status_code == 200 and len(after.json["stages"][0]["outputs"]) == 1


def test_a_kept_answer_is_not_served_to_a_deactivated_account(as_role, world, db_session):
    job, _ = make_running_job(db_session, world)
    owner = as_role("owner")
    url = f"/api/anime/generation/{job.id}/status"
    assert owner.get(url).status_code == 200

    world.users["owner"].is_active = False
    db_session.commit()

    assert owner.get(url).status_code == 401


def test_a_kept_answer_is_not_served_on_a_revoked_token(as_role, world, db_session):
    job, _ = make_running_job(db_session, world)
    owner = as_role("owner")
    url = f"/api/anime/generation/{job.id}/status"
    etag = owner.get(url).headers["ETag"]

    assert owner.post("/auth/logout").status_code == 204

    refused = owner.get(url, headers={"If-None-Match": etag})
    assert refused.status_code == 401 and "revoked" in refused.get_json()["message"]


def test_the_live_state_read_with_the_token_check_is_laid_over_the_rows(
    app, as_role, world, db_session
):
    job, run = make_running_job(db_session, world)
    ProgressBus.from_url(app.config["SETTINGS"].redis_url).stage_event(
        job.id, stage_id=run.id, stage="keyframe", status="running", step=7, max=20, progress=0.35
    )

    (stage,) = as_role("owner").get(f"/api/anime/generation/{job.id}/status").json["stages"]

    assert (stage["step"], stage["progress"]) == (7, 0.35)


def test_a_token_poll_answered_again_runs_outside_a_transaction(app, settings):
    """psycopg2 sends BEGIN before a transaction's first statement and the request's end sends
    ROLLBACK: two round trips a poll that only reads does without. The rows are committed, as
    the app's own connections see them outside a test's transaction."""
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        job = factories.make_job(session, status="running")
        factories.make_stage_run(session, job_id=job.id)
        owner = session.get(User, job.owner_id)
        session.commit()
        ids = {"job": job.id, "project": job.project_id, "owner": owner.id}
        token = issue_access_token(settings.secret_key, owner.id, owner.role, 600)[0]
    url = f"/api/anime/generation/{ids['job']}/status"
    client = Api(app.test_client(), token)
    in_autocommit: list[bool] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        in_autocommit.append(conn.connection.dbapi_connection.autocommit)

    try:
        first = client.get(url)  # builds the report, reading in a transaction
        event.listen(Engine, "before_cursor_execute", note)
        try:
            again = client.get(url)
        finally:
            event.remove(Engine, "before_cursor_execute", note)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM jobs WHERE id = :job"), ids)
            conn.execute(sa.text("DELETE FROM projects WHERE id = :project"), ids)
            conn.execute(sa.text("DELETE FROM users WHERE id = :owner"), ids)

    assert first.status_code == again.status_code == 200
    assert again.json["request_id"] == ids["job"]
    assert in_autocommit and all(in_autocommit)
