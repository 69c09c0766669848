"""A browser's EventSource, which cannot send headers, follows a job in headless Chromium: with
a stream token from the API, or with the dashboard's session cookie on the same origin; a
token for another job is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask

from shared.db import db
from tests import factories
from tests.tasks.conftest import truncate
from web.credentials import hash_password, issue_access_token

PASSWORD = "event source password"

# Opens an EventSource and settles with the first `job` event's data, or "refused" when the
# server refuses the stream (EventSource then closes without retrying).
FOLLOW = """async ([url, headers, body]) => {
  let events = url;
  if (body !== null) {
    const reply = await fetch(url, {method: "POST", headers, body});
    if (!reply.ok) return "token refused: HTTP " + reply.status;
    events = (await reply.json()).events_url;
  }
  return await new Promise((resolve) => {
    const source = new EventSource(events);
    source.addEventListener("job", (e) => { source.close(); resolve(JSON.parse(e.data)); });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) resolve("refused");
    };
  });
}"""


@dataclass
class Jobs:
    """A succeeded job with one output and another job of the same owner, and its login."""

    done: int
    other: int
    email: str
    token: str


@pytest.fixture(scope="module")
def jobs(app: Flask) -> Iterator[Jobs]:
    with app.app_context():
        session = db.session
        owner = factories.make_user(session, password_hash=hash_password(PASSWORD))
        project = factories.make_project(session, owner_id=owner.id)
        done = factories.make_job(
            session, project_id=project.id, owner_id=owner.id, status="succeeded", progress=1.0
        )
        run = factories.make_stage_run(session, job_id=done.id, status="succeeded")
        factories.make_asset(session, job_id=done.id, stage_run_id=run.id)
        other = factories.make_job(session, project_id=project.id, owner_id=owner.id)
        session.commit()
        token = issue_access_token(app.config["SECRET_KEY"], owner.id, owner.role, 600)[0]
        made = Jobs(done.id, other.id, owner.email, token)
        db.session.remove()
    yield made
    truncate(app)


def follow(page, base_url: str, url: str, headers: dict | None = None, body: str | None = None):
    """What an EventSource opened by a page of the farm's origin receives first."""
    page.goto(f"{base_url}/health")
    return page.evaluate(FOLLOW, [f"{base_url}{url}", headers or {}, body])


def test_a_stream_token_opens_the_jobs_events_in_a_browser(page, base_url, jobs):
    bearer = {"Authorization": f"Bearer {jobs.token}"}
    token_url = f"/api/anime/generation/{jobs.done}/stream-token"
    data = follow(page, base_url, token_url, bearer, "")
    assert data["status"] == "succeeded" and len(data["outputs"]) == 1, data
    # Without credentials the stream is refused; with another job's token too.
    assert follow(page, base_url, f"/api/anime/generation/{jobs.done}/events") == "refused"
    reply = page.evaluate(
        """async ([url, headers]) =>
             (await (await fetch(url, {method: "POST", headers})).json())""",
        [f"{base_url}/api/anime/generation/{jobs.other}/stream-token", bearer],
    )
    wrong = f"/api/anime/generation/{jobs.done}/events?stream_token={reply['token']}"
    assert follow(page, base_url, wrong) == "refused"


def test_the_session_cookie_opens_the_jobs_events_on_the_same_origin(page, base_url, jobs):
    page.goto(f"{base_url}/health")
    login = page.evaluate(
        """async ([url, email, password]) => (await fetch(url, {
             method: "POST", headers: {"Content-Type": "application/json"},
             body: JSON.stringify({email, password, session: true})})).status""",
        [f"{base_url}/auth/login", jobs.email, PASSWORD],
    )
    assert login == 200
    data = follow(page, base_url, f"/api/anime/generation/{jobs.done}/events")
    assert data["status"] == "succeeded" and len(data["outputs"]) == 1, data
