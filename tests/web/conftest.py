"""Fixtures for the web tests: a client with per-role credentials and a small world of rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.db import db
from tasks.pipeline.workflow_store import seed_default_workflows
from tests import factories
from web.credentials import hash_password, issue_access_token
from web.throttle import KEY_PREFIX
from web.throttle import client as redis_client

PASSWORD = "correct horse battery"
# One real scrypt hash for the whole run: hashing costs ~0.1 s.
_HASHES: dict[str, str] = {}


def password_hash() -> str:
    """A hash of PASSWORD, computed once."""
    if PASSWORD not in _HASHES:
        _HASHES[PASSWORD] = hash_password(PASSWORD)
    return _HASHES[PASSWORD]


class Api:
    """The Flask test client with an optional bearer token."""

    def __init__(self, client: FlaskClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, json: Any = None, **kwargs: Any):
        """Send a request, as this token's user when it has one."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(path, method=method, json=json, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any):
        """GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any):
        """POST with a JSON body."""
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any):
        """PATCH with a JSON body."""
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        """DELETE."""
        return self.request("DELETE", path, **kwargs)


@dataclass
class World:
    """Accounts of every role and the rows they own."""

    users: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)


def token_for(app: Flask, user) -> str:
    """A valid access token for `user` (under its account's current session version)."""
    return issue_access_token(
        app.config["SECRET_KEY"], user.id, user.role, 600, session_version=user.session_version
    )[0]


def committed_user(app: Flask, role: str) -> tuple[int, str]:
    """A committed user of `role` (for tests on real connections): its id and access token."""
    with app.app_context():
        user = factories.make_user(db.session, role=role)
        db.session.commit()
        made = user.id, token_for(app, user)
        db.session.remove()
    return made


@pytest.fixture(autouse=True)
def clean_counters(app: Flask) -> Iterator[None]:
    """Forget login counters and revocations between tests."""
    with app.app_context():
        redis = redis_client()
        for key in redis.scan_iter(f"{KEY_PREFIX}*"):
            redis.delete(key)
    yield


@pytest.fixture
def client(app: Flask, db_session) -> FlaskClient:
    """A test client on the rolled-back test transaction."""
    return app.test_client()


@pytest.fixture
def world(app: Flask, db_session) -> World:
    """owner (user) with a private project, other (user), operator, admin, guest, and a public
    demo project owned by the admin; rows committed to the test's outer transaction."""
    w = World()
    for name, role in (
        ("owner", "user"),
        ("other", "user"),
        ("operator", "operator"),
        ("admin", "admin"),
        ("guest", "guest"),
    ):
        w.users[name] = factories.make_user(db_session, role=role, password_hash=password_hash())
    project = factories.make_project(db_session, owner_id=w.users["owner"].id)
    character = factories.make_character(
        db_session, project_id=project.id, trigger_words="hero_a, red scarf"
    )
    episode = factories.make_episode(db_session, project_id=project.id, number=1)
    scene = factories.make_scene(db_session, episode_id=episode.id, order=0)
    job = factories.make_job(
        db_session,
        project_id=project.id,
        owner_id=w.users["owner"].id,
        episode_id=episode.id,
        status="failed",
    )
    run = factories.make_stage_run(
        db_session, job_id=job.id, scene_id=scene.id, status="succeeded", progress=1.0
    )
    failed = factories.make_stage_run(
        db_session,
        job_id=job.id,
        scene_id=scene.id,
        stage="animate",
        status="failed",
        error="node 12 (ADE_AnimateDiffLoader): out of memory",
    )
    asset = factories.make_asset(
        db_session,
        uri=f"tests/web/{job.id}/keyframe.png",
        job_id=job.id,
        stage_run_id=run.id,
        mime_type="image/png",
    )
    public = factories.make_project(db_session, owner_id=w.users["admin"].id, is_public=True)
    public_episode = factories.make_episode(db_session, project_id=public.id, number=1)
    public_scene = factories.make_scene(db_session, episode_id=public_episode.id, order=0)
    seed_default_workflows(db_session)
    db_session.commit()
    w.rows.update(
        project=project,
        character=character,
        episode=episode,
        scene=scene,
        job=job,
        run=run,
        failed=failed,
        asset=asset,
        public=public,
        public_episode=public_episode,
        public_scene=public_scene,
    )
    w.tokens = {name: token_for(app, user) for name, user in w.users.items()}
    store = app.config["SETTINGS"].artifact_root / asset.uri
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(bytes(range(256)) * 4)
    return w


@pytest.fixture
def as_role(client: FlaskClient, world: World):
    """as_role("owner") -> an Api authenticated as that world user (None: anonymous)."""

    def make(name: str | None) -> Api:
        return Api(client, world.tokens[name] if name else None)

    return make
