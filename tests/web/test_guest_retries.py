"""A guest's retries count against the guest_jobs_per_hour quota like new jobs (a retry renders
again), under the same lock on the guest's row; staff retrying a guest's job spend nothing of it."""

from __future__ import annotations

import sqlalchemy as sa

from shared.models import Job, JobRetry
from tests import factories

GUEST_QUOTA = 5  # the guest_jobs_per_hour setting's default


def failed_guest_job(db_session, world) -> Job:
    """A guest's failed image job on the public demo scene."""
    job = factories.make_job(
        db_session, project_id=world.rows["public"].id, owner_id=world.users["guest"].id,
        kind="image", status="failed",
    )  # fmt: skip
    factories.make_stage_run(
        db_session, job_id=job.id, scene_id=world.rows["public_scene"].id, status="failed"
    )
    return job


def test_a_guests_retries_are_held_to_the_hourly_quota(as_role, world, db_session):
    first, second = failed_guest_job(db_session, world), failed_guest_job(db_session, world)
    for _ in range(GUEST_QUOTA - 3):
        factories.make_job(
            db_session, project_id=world.rows["public"].id, owner_id=world.users["guest"].id,
            kind="image", status="succeeded",
        )  # fmt: skip
    db_session.commit()
    api = as_role("guest")
    assert api.get("/api/anime/guest-status").get_json()["jobs_left"] == 1
    retried = api.post(f"/api/anime/generation/{first.id}/retry", json={})
    assert retried.status_code == 202, retried.get_json()
    assert api.get("/api/anime/guest-status").get_json()["jobs_left"] == 0

    refused = api.post(f"/api/anime/generation/{second.id}/retry", json={})
    assert refused.status_code == 429, refused.get_json()
    db_session.expire_all()
    assert db_session.get(Job, second.id).status == "failed"
    retries = db_session.scalars(sa.select(JobRetry.job_id)).all()
    assert retries == [first.id]

    by_staff = as_role("operator").post(f"/api/anime/generation/{second.id}/retry", json={})
    assert by_staff.status_code == 202, by_staff.get_json()
