"""A browser's EventSource sends no headers: a short-lived stream token opens one job's events
(and nothing else), and the final event of a succeeded job carries its outputs."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.progress import ProgressBus
from tests import factories
from tests.web.conftest import Api
from web.stream_tokens import issue_stream_token


def events_path(job_id: int, token: str) -> str:
    return f"/api/anime/generation/{job_id}/events?stream_token={token}"


def stream_token(api: Api, job_id: int) -> str:
    """A stream token from the API, checked to be the one its events_url carries."""
    response = api.post(f"/api/anime/generation/{job_id}/stream-token")
    assert response.status_code == 201, response.json
    body = response.json
    assert 0 < body["expires_in"] <= 600
    url = urlsplit(body["events_url"])
    assert url.path == f"/api/anime/generation/{job_id}/events"
    assert parse_qs(url.query) == {"stream_token": [body["token"]]}
    return body["token"]


def open_stream(client, path: str):
    """The whole answer of an events URL (the job has ended, so the stream ends)."""
    response = client.get(path, headers={"Accept": "text/event-stream"})
    return response, response.get_data(as_text=True)


def test_a_stream_token_opens_its_jobs_events_without_any_header(as_role, world, client):
    job = world.rows["job"]
    token = stream_token(as_role("owner"), job.id)
    response, body = open_stream(client, events_path(job.id, token))
    assert response.status_code == 200, body
    assert response.mimetype == "text/event-stream"
    assert "event: job" in body and '"status":"failed"' in body


def test_staff_get_tokens_for_any_job_and_strangers_none(as_role, world):
    job = world.rows["job"]
    stream_token(as_role("operator"), job.id)
    refused = as_role("other").post(f"/api/anime/generation/{job.id}/stream-token")
    assert refused.status_code == 404 and refused.json["error"] == "not_found"
    anonymous = as_role(None).post(f"/api/anime/generation/{job.id}/stream-token")
    assert anonymous.status_code == 401


def test_a_token_is_refused_for_another_job_and_on_other_urls(as_role, world, client, db_session):
    job = world.rows["job"]
    other = factories.make_job(
        db_session, project_id=world.rows["project"].id, owner_id=world.users["owner"].id
    )
    db_session.commit()
    token = stream_token(as_role("owner"), job.id)
    response, _ = open_stream(client, events_path(other.id, token))
    assert response.status_code == 403
    assert response.json["error"] == "forbidden" and f"job {job.id}" in response.json["message"]
    # Anywhere but the events URL the token is no credential at all.
    status = client.get(f"/api/anime/generation/{job.id}/status?stream_token={token}")
    assert status.status_code == 401


def test_an_expired_or_tampered_token_is_refused(app, world, client):
    job = world.rows["job"]
    with app.test_request_context():
        expired = issue_stream_token(world.users["owner"], job.id, ttl_s=-1)["token"]
    response, _ = open_stream(client, events_path(job.id, expired))
    assert response.status_code == 401 and "expired" in response.json["message"]
    tampered = expired[:-2] + ("AA" if not expired.endswith("AA") else "BB")
    response, _ = open_stream(client, events_path(job.id, tampered))
    assert response.status_code == 401 and "invalid" in response.json["message"]


@pytest.mark.parametrize("loss", ["deactivated", "logged_out_everywhere", "no_longer_staff"])
def test_a_token_is_refused_once_its_user_lost_access(as_role, world, client, db_session, loss):
    job = world.rows["job"]
    holder = "owner" if loss != "no_longer_staff" else "operator"
    token = stream_token(as_role(holder), job.id)
    user = world.users[holder]
    if loss == "deactivated":
        user.is_active = False
    elif loss == "logged_out_everywhere":
        assert as_role(holder).post("/auth/logout-all").status_code == 204
    else:
        user.role = "user"
    db_session.commit()
    response, _ = open_stream(client, events_path(job.id, token))
    assert response.status_code == (404 if loss == "no_longer_staff" else 401), response.json


def test_the_final_event_of_a_succeeded_job_carries_its_outputs(app, as_role, world, db_session):
    owner = as_role("owner")
    job = factories.make_job(
        db_session,
        project_id=world.rows["project"].id,
        owner_id=world.users["owner"].id,
        status="succeeded",
        progress=1.0,
    )
    run = factories.make_stage_run(
        db_session, job_id=job.id, scene_id=world.rows["scene"].id, status="succeeded"
    )
    factories.make_asset(db_session, job_id=job.id, stage_run_id=run.id)
    db_session.commit()
    outputs = owner.get(f"/api/anime/generation/{job.id}/status").json["outputs"]
    assert len(outputs) == 1

    # Without history the stream is the row's snapshot; with it, the recorded terminal event.
    for published in (False, True):
        if published:
            bus = ProgressBus.from_url(app.config["SETTINGS"].redis_url)
            bus.job_event(job.id, status="running", progress=0.5)
            bus.job_event(job.id, status="succeeded", progress=1.0, eta_s=0)
        response = owner.get(f"/api/anime/generation/{job.id}/events")
        lines = response.get_data(as_text=True).strip().splitlines()
        assert lines[-2] == "event: job", lines
        final = json.loads(lines[-1].removeprefix("data: "))
        assert final["status"] == "succeeded" and final["outputs"] == outputs, final
