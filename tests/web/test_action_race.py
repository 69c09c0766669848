"""Simultaneous retries, retakes and cancels of one job: one is done, every other one is
refused with a 409 naming the job's status (never a 503 for a deadlock), and the job gets one
new attempt. Real HTTP requests at once to gunicorn with several worker processes, on
committed rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from shared.db import db
from shared.models import Job, StageRun, Workflow
from tasks.pipeline.workflow_store import seed_default_workflows
from tests import factories
from tests.web.test_quota_race import web_url  # noqa: F401  (the gunicorn fixture)
from web.credentials import issue_access_token

AT_ONCE = 8


@dataclass
class Owned:
    """A user's token, and their jobs by status, each of a scene of its own."""

    token: str
    jobs: dict[str, int]
    scenes: dict[str, int]


@pytest.fixture
def owned(app: Flask) -> Iterator[Owned]:
    """Committed rows: a user with a failed, a succeeded and a running scene job."""
    with app.app_context():
        session = db.session
        seeded = [w.id for w in seed_default_workflows(session)]
        user = factories.make_user(session, role="user")
        project = factories.make_project(session, owner_id=user.id)
        episode = factories.make_episode(session, project_id=project.id)
        jobs, scenes = {}, {}
        for order, status in enumerate(("failed", "succeeded", "running")):
            scene = factories.make_scene(session, episode_id=episode.id, order=order)
            job = factories.make_job(
                session, project_id=project.id, owner_id=user.id, episode_id=episode.id,
                kind="scene", status=status,
            )  # fmt: skip
            factories.make_stage_run(session, job_id=job.id, scene_id=scene.id, status=status)
            jobs[status], scenes[status] = job.id, scene.id
        session.commit()
        token = issue_access_token(app.config["SECRET_KEY"], user.id, "user", 600)[0]
        ids = (user.id, project.id)
        session.remove()
    yield Owned(token, jobs, scenes)
    with app.app_context():
        session = db.session
        session.execute(sa.delete(Job).where(Job.project_id == ids[1]))
        session.execute(sa.text("DELETE FROM projects WHERE id = :id"), {"id": ids[1]})
        session.execute(sa.text("DELETE FROM users WHERE id = :id"), {"id": ids[0]})
        session.execute(sa.delete(Workflow).where(Workflow.id.in_(seeded)))
        session.commit()
        session.remove()


def at_once(url: str, token: str, body: dict | None) -> list[tuple[int, dict]]:
    """AT_ONCE identical POSTs released together; their statuses and bodies."""
    start = threading.Barrier(AT_ONCE)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        with requests.Session() as http:
            start.wait(timeout=30)
            response = http.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=post) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return answers


def attempts(app: Flask, job_id: int) -> list[int]:
    """The attempts of the job's stage rows."""
    with app.app_context():
        found = db.session.scalars(
            sa.select(StageRun.attempt).where(StageRun.job_id == job_id).order_by(StageRun.id)
        ).all()
        db.session.remove()
    return list(found)


def one_done_the_rest_refused(answers: list[tuple[int, dict]], status: str) -> None:
    """Exactly one 202; every other answer a 409 naming the job's new status."""
    codes = sorted(code for code, _ in answers)
    assert codes == [202] + [409] * (AT_ONCE - 1), answers
    assert all(body["fields"] == {"status": status} for code, body in answers if code == 409)


def test_simultaneous_retries_queue_one_new_attempt(app, web_url, owned):  # noqa: F811
    job_id = owned.jobs["failed"]
    answers = at_once(f"{web_url}/api/anime/generation/{job_id}/retry", owned.token, {})
    one_done_the_rest_refused(answers, "queued")
    assert attempts(app, job_id) == [1, 2]


def test_simultaneous_retakes_queue_one_new_take(app, web_url, owned):  # noqa: F811
    scene_id = owned.scenes["succeeded"]
    answers = at_once(f"{web_url}/api/anime/scenes/{scene_id}/retake", owned.token, {})
    one_done_the_rest_refused(answers, "queued")
    assert attempts(app, owned.jobs["succeeded"]) == [1, 2]


def test_simultaneous_cancels_cancel_once(app, web_url, owned):  # noqa: F811
    job_id = owned.jobs["running"]
    answers = at_once(f"{web_url}/api/anime/generation/{job_id}/cancel", owned.token, None)
    one_done_the_rest_refused(answers, "cancelled")
