"""The guest quota holds under simultaneous submissions: real HTTP requests at once to gunicorn
with several worker processes, on committed rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa
from flask import Flask

from shared.config import Settings
from shared.db import db
from shared.models import Job, Workflow
from tasks.pipeline.workflow_store import seed_default_workflows
from tests import factories
from tests.support.web_server import start_gunicorn
from web.credentials import issue_access_token

SUBMISSIONS = 12
GUEST_QUOTA = 5  # the guest_jobs_per_hour setting's default


@dataclass
class GuestWorld:
    """A guest with a token, and the public demo scene it may render."""

    guest_id: int
    token: str
    project_id: int
    scene_id: int


@pytest.fixture(scope="module")
def web_url(settings: Settings, app: Flask, log_dir: Path) -> Iterator[str]:
    """gunicorn with four gevent worker processes, dispatching under a broker prefix no test
    worker consumes (the jobs stay queued)."""
    prefix = f"{settings.broker_key_prefix}quota-race:"
    web_settings = settings.with_overrides(broker_key_prefix=prefix)
    process, url = start_gunicorn(
        web_settings.as_environ(), log_dir / "gunicorn-quota.log", workers=4
    )
    try:
        yield url
    finally:
        process.stop()
        broker = redis.Redis.from_url(settings.broker_url)
        for key in broker.scan_iter(match=f"{prefix}*", count=500):
            broker.delete(key)


@pytest.fixture
def guest_world(app: Flask) -> Iterator[GuestWorld]:
    """Committed rows: a guest, an admin's public project with one scene, the workflows."""
    with app.app_context():
        session = db.session
        seeded = [w.id for w in seed_default_workflows(session)]
        admin = factories.make_user(session, role="admin")
        guest = factories.make_user(session, role="guest")
        project = factories.make_project(session, owner_id=admin.id, is_public=True)
        episode = factories.make_episode(session, project_id=project.id)
        scene = factories.make_scene(session, episode_id=episode.id, order=0)
        session.commit()
        token = issue_access_token(app.config["SECRET_KEY"], guest.id, "guest", 600)[0]
        world = GuestWorld(guest.id, token, project.id, scene.id)
        ids = (admin.id, guest.id, project.id)
        session.remove()
    yield world
    with app.app_context():
        session = db.session
        session.execute(sa.delete(Job).where(Job.project_id == ids[2]))
        session.execute(sa.text("DELETE FROM projects WHERE id = :id"), {"id": ids[2]})
        session.execute(
            sa.text("DELETE FROM users WHERE id IN (:a, :g)"), {"a": ids[0], "g": ids[1]}
        )
        session.execute(sa.delete(Workflow).where(Workflow.id.in_(seeded)))
        session.commit()
        session.remove()


def test_simultaneous_guest_submissions_stay_within_the_quota(app, web_url, guest_world):
    start = threading.Barrier(SUBMISSIONS)
    codes: list[int] = []

    def submit() -> None:
        with requests.Session() as http:
            start.wait(timeout=30)
            response = http.post(
                f"{web_url}/api/anime/projects/{guest_world.project_id}/generate",
                json={"kind": "image", "scene_ids": [guest_world.scene_id]},
                headers={"Authorization": f"Bearer {guest_world.token}"},
                timeout=60,
            )
            codes.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    with app.app_context():
        stored = db.session.scalar(
            sa.select(sa.func.count(Job.id)).where(Job.owner_id == guest_world.guest_id)
        )
        db.session.remove()
    assert sorted(codes) == [202] * GUEST_QUOTA + [429] * (SUBMISSIONS - GUEST_QUOTA)
    assert stored == GUEST_QUOTA
