"""Retake on a real farm: a job that failed or was cancelled is refused (it used to re-attach
to the ended job and wait for ever on scenes that had no clip), and retrying it, as the refusal
says, renders it to the end."""

from __future__ import annotations

from shared.db import db
from shared.models import Job, User
from tasks.pipeline.control import prepare_retry
from tasks.pipelines import dispatch_job
from tests.tasks.conftest import FAST_OPTIONS, job_row
from tests.tasks.test_failures import (
    SLOW_ANIMATE,
    cancel_and_wait_stopped,
    wait_running_on_backend,
)
from tests.tasks.test_pipeline import submit, wait_until_done
from web.credentials import issue_access_token


def retake_as_owner(app, production, scene_id: int):
    """POST /api/anime/scenes/{id}/retake as the scene's owner."""
    with app.app_context():
        owner = db.session.get(User, production.owner_id)
        token = issue_access_token(app.config["SECRET_KEY"], owner.id, owner.role, 600)[0]
    return app.test_client().post(
        f"/api/anime/scenes/{scene_id}/retake",
        json={"seed": 5},
        headers={"Authorization": f"Bearer {token}"},
    )


def stage_ids(app, job_id: int) -> list[int]:
    return sorted(r.id for r in job_row(app, job_id).stage_runs)


def test_retake_of_a_failed_job_is_refused(app, farm, production):
    options = {**FAST_OPTIONS, "extra_data": {"animate": {"emulator_fault": "error:KSampler"}}}
    job = wait_until_done(app, farm, submit(app, production, options=options))
    assert job.status == "failed", (job.error, farm.logs())
    before = stage_ids(app, job.id)
    reply = retake_as_owner(app, production, production.scene_ids[0])
    assert reply.status_code == 409, reply.json
    assert reply.json["message"] == (
        f"job {job.id} failed; a retake changes one scene of a finished episode: "
        f"retry job {job.id} (tower retry {job.id}) or submit the production again"
    )
    assert reply.json["fields"] == {"status": "failed"}
    assert job_row(app, job.id).status == "failed" and stage_ids(app, job.id) == before


def test_retake_of_a_job_cancelled_mid_render_is_refused_and_retry_finishes_it(
    app, farm, production
):
    job_id = submit(app, production, options=SLOW_ANIMATE)
    wait_running_on_backend(app, farm, job_id, "animate")
    cancel_and_wait_stopped(app, farm, job_id)
    before = stage_ids(app, job_id)
    reply = retake_as_owner(app, production, production.scene_ids[1])
    assert reply.status_code == 409, reply.json
    assert f"job {job_id} cancelled" in reply.json["message"]
    assert f"tower retry {job_id}" in reply.json["message"]
    assert job_row(app, job_id).status == "cancelled" and stage_ids(app, job_id) == before
    # What the refusal advises: a retry renders the rest and ends.
    with app.app_context():
        prepare_retry(db.session, db.session.get(Job, job_id))
        db.session.commit()
        dispatch_job(job_id)
    job = wait_until_done(app, farm, job_id, timeout=240)
    assert job.status == "succeeded", (job.error, farm.logs())
