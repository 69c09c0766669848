"""Errors on the dashboard's pages are HTML pages for people; the API's stay JSON."""

from __future__ import annotations

from shared.db import db
from shared.models import Job
from tests import factories
from tests.web.test_dashboard import log_in


def error_page(reply, status: int) -> str:
    """The text of an HTML error page answered with `status`."""
    assert reply.status_code == status
    assert reply.mimetype == "text/html", reply.get_data(as_text=True)[:200]
    page = reply.get_data(as_text=True)
    assert f'id="error" data-status="{status}"' in page
    return page


def test_a_missing_job_is_a_404_page(client, world):
    log_in(client, world.users["operator"])
    page = error_page(client.get("/dashboard/jobs/999999"), 404)
    assert "job 999999 not found" in page
    error_page(client.get("/dashboard/jobs/999999/cancel"), 404)
    error_page(client.get("/dashboard/no-such-page"), 404)


def test_a_malformed_cursor_is_a_422_page_naming_it(client, world):
    log_in(client, world.users["operator"])
    page = error_page(client.get("/dashboard/?cursor=not-a-cursor"), 422)
    assert 'data-field="cursor"' in page


def test_a_form_without_its_csrf_token_is_a_403_page_and_cancels_nothing(client, world, db_session):
    log_in(client, world.users["operator"])
    job = factories.make_job(
        db_session,
        project_id=world.rows["project"].id,
        owner_id=world.users["owner"].id,
        status="running",
    )
    db_session.commit()
    page = error_page(client.post(f"/dashboard/jobs/{job.id}/cancel", data={}), 403)
    assert "X-CSRF-Token" in page
    error_page(client.post("/dashboard/failed/retry", data={"stage_id": "1"}), 403)
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == "running"


def test_the_api_keeps_answering_json(client, world):
    log_in(client, world.users["operator"])
    reply = client.get("/api/anime/generation/999999/status")
    assert reply.status_code == 404 and reply.json["error"] == "not_found"
    reply = client.get("/api/anime/jobs?cursor=not-a-cursor")
    assert reply.status_code == 422 and "cursor" in reply.json["fields"]


def test_a_form_posted_after_the_session_ended_comes_back_to_a_page(client, world):
    job = world.rows["job"]
    retry = client.post("/dashboard/failed/retry", data={"stage_id": "1"})
    assert retry.status_code == 302
    assert retry.headers["Location"] == "/dashboard/login?next=/dashboard/"
    cancel = client.post(f"/dashboard/jobs/{job.id}/cancel", data={})
    assert cancel.headers["Location"] == f"/dashboard/login?next=/dashboard/jobs/{job.id}/cancel"


def test_a_bad_or_repeated_filter_is_a_422_page_naming_it(client, world):
    # Before, each was silently dropped (or the first value taken) and every job listed.
    log_in(client, world.users["operator"])
    for query, field in [
        ("status=bogus", "status"),
        ("status=failed&status=queued", "status"),
        ("owner_id=abc", "owner_id"),
        ("project_id=%C2%B2", "project_id"),
        ("project_id=99999999999999999999", "project_id"),
        ("owner_id=" + "9" * 5000, "owner_id"),  # past what int() reads: a 500
    ]:
        page = error_page(client.get(f"/dashboard/?{query}"), 422)
        assert f'data-field="{field}"' in page, query
    error_page(client.get("/dashboard/failed?owner_id=1&owner_id=2"), 422)


def test_the_retry_outcome_cannot_be_written_into_a_link(client, world):
    # The outcome travelled in the address: any link showed an operator any "Retried:" line.
    log_in(client, world.users["operator"])
    page = client.get("/dashboard/failed?retried=job+1+queued").get_data(as_text=True)
    assert 'id="retried"' not in page
