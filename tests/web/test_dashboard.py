"""The dashboard's pages on the server side: login, roles, jobs, job detail, failed stages."""

from __future__ import annotations

import re

import pytest

from tests import factories
from tests.web.conftest import PASSWORD


def log_in(client, user) -> str:
    """Log `user` into the session cookie; returns the CSRF token."""
    reply = client.post(
        "/auth/login", json={"email": user.email, "password": PASSWORD, "session": True}
    )
    assert reply.status_code == 200, reply.json
    return reply.json["csrf_token"]


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    reply = client.get("/dashboard/nodes")
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/dashboard/login?next=/dashboard/nodes")
    page = client.get("/dashboard/login?next=/dashboard/nodes").get_data(as_text=True)
    assert 'id="login"' in page and 'data-next="/dashboard/nodes"' in page


def test_login_never_redirects_off_site(client, world):
    for target in ("https://evil.example/", "//evil.example/dashboard", "/api/x"):
        page = client.get("/dashboard/login", query_string={"next": target})
        assert 'data-next="/dashboard/"' in page.get_data(as_text=True)


@pytest.mark.parametrize("name", ["owner", "guest"])
def test_other_roles_get_a_403_page(client, world, name):
    log_in(client, world.users[name])
    reply = client.get("/dashboard/")
    assert reply.status_code == 403
    assert "Operators only" in reply.get_data(as_text=True)


def test_jobs_table_with_owner_project_filters_and_csrf(client, world, db_session):
    csrf = log_in(client, world.users["operator"])
    job = world.rows["job"]
    other = factories.make_job(
        db_session,
        project_id=world.rows["public"].id,
        owner_id=world.users["admin"].id,
        status="running",
        progress=0.4,
    )
    db_session.commit()
    page = client.get("/dashboard/").get_data(as_text=True)
    assert f'content="{csrf}"' in page
    assert f'data-job-id="{job.id}" data-status="failed"' in page
    assert f'data-job-id="{other.id}" data-status="running"' in page
    assert world.users["owner"].email in page and world.rows["project"].name in page
    assert 'data-width="40.0"' in page
    failed_only = client.get("/dashboard/?status=failed").get_data(as_text=True)
    assert f'data-job-id="{job.id}"' in failed_only
    assert f'data-job-id="{other.id}"' not in failed_only
    by_owner = client.get(f"/dashboard/?owner_id={world.users['admin'].id}")
    assert f'data-job-id="{job.id}"' not in by_owner.get_data(as_text=True)
    by_project = client.get(f"/dashboard/?project_id={world.rows['project'].id}")
    text = by_project.get_data(as_text=True)
    assert f'data-job-id="{job.id}"' in text and f'data-job-id="{other.id}"' not in text


def test_job_detail_has_timeline_errors_and_previews(client, world, db_session):
    log_in(client, world.users["admin"])
    failed = world.rows["failed"]
    failed.backend = "node-7"
    failed.error_detail = {
        "type": "ComfyExecutionFailed",
        "node_type": "ADE_AnimateDiffLoader",
        "exception_type": "torch.OutOfMemoryError",
    }
    db_session.commit()
    job = world.rows["job"]
    page = client.get(f"/dashboard/jobs/{job.id}").get_data(as_text=True)
    assert f'data-stage-id="{failed.id}"' in page
    assert "node-7" in page and "ADE_AnimateDiffLoader" in page
    assert "torch.OutOfMemoryError" in page and "out of memory" in page
    asset = world.rows["asset"]
    assert f'src="/api/anime/assets/{asset.id}/content"' in page
    assert re.search(r'class="track"', page)
    assert client.get("/dashboard/jobs/999999").status_code == 404


def test_failed_stages_list_has_retry_and_no_cancel_for_ended_jobs(client, world, db_session):
    log_in(client, world.users["operator"])
    failed = world.rows["failed"]
    page = client.get("/dashboard/failed").get_data(as_text=True)
    assert (
        f'data-action="retry" data-job-id="{world.rows["job"].id}" '
        f'data-stage-id="{failed.id}"' in page
    )
    # The job has ended: nothing to cancel.
    assert f"/dashboard/jobs/{world.rows['job'].id}/cancel" not in page
    # A failed attempt followed by a newer one is not listed any more.
    factories.make_stage_run(
        db_session,
        job_id=failed.job_id,
        scene_id=failed.scene_id,
        stage="animate",
        attempt=2,
        status="queued",
    )
    db_session.commit()
    page = client.get("/dashboard/failed").get_data(as_text=True)
    assert f'data-stage-id="{failed.id}"' not in page


def test_nodes_queues_and_static_assets(client, world):
    log_in(client, world.users["operator"])
    assert 'id="nodes"' in client.get("/dashboard/nodes").get_data(as_text=True)
    assert 'id="flower"' in client.get("/dashboard/queues").get_data(as_text=True)
    script = client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and b"EventSource" in script.data
    assert client.get("/dashboard/static/dashboard.css").status_code == 200
