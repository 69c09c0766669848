"""Two uploads of one workflow name at once, on two real connections: the second counts and
numbers the versions after the first commits, so both are kept below the cap and, at it, the
one past it is refused naming `name` (before, one of the two took the same version number and
was refused with no field named, whatever the count)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from shared.db import db
from shared.models import User, Workflow
from tests.support.lock_waits import run_twice_paused_in
from tests.web.conftest import committed_user
from tests.web.test_roles import upload_body
from web import registry

NAME = "racing-upload"


@pytest.fixture
def uploader(app: Flask) -> Iterator[str]:
    """A committed user's access token; its uploads are removed afterwards."""
    user_id, token = committed_user(app, "user")
    yield token
    with app.app_context():
        db.session.execute(sa.delete(Workflow).where(Workflow.name == NAME))
        db.session.execute(sa.delete(User).where(User.id == user_id))
        db.session.commit()
        db.session.remove()


def upload(app: Flask, token: str) -> Any:
    """POST one version of NAME; the response."""
    return app.test_client().post(
        "/api/anime/workflows",
        json=upload_body(NAME),
        headers={"Authorization": f"Bearer {token}"},
    )


def upload_both_at_once(app: Flask, token: str, monkeypatch) -> list[Any]:
    """The first upload pauses once past its checks (while validating the graph) until the
    second waits for a lock or has finished; both responses, first then second."""
    return run_twice_paused_in(monkeypatch, registry, "validate_upload", lambda: upload(app, token))


def stored_versions(app: Flask) -> list[int]:
    """The versions of NAME in the database."""
    with app.app_context():
        versions = db.session.scalars(
            sa.select(Workflow.version).where(Workflow.name == NAME).order_by(Workflow.version)
        )
        result = list(versions)
        db.session.remove()
    return result


def test_two_uploads_at_once_are_both_kept_as_the_next_versions(app, uploader, monkeypatch):
    assert upload(app, uploader).status_code == 201
    responses = upload_both_at_once(app, uploader, monkeypatch)
    assert [r.status_code for r in responses] == [201, 201], [r.get_json() for r in responses]
    assert stored_versions(app) == [1, 2, 3]


def test_two_uploads_at_once_at_the_cap_keep_it_and_name_the_field(app, uploader, monkeypatch):
    monkeypatch.setattr(registry, "MAX_VERSIONS", 3)
    for _ in range(2):
        assert upload(app, uploader).status_code == 201
    responses = upload_both_at_once(app, uploader, monkeypatch)
    assert sorted(r.status_code for r in responses) == [201, 409]
    refused = next(r for r in responses if r.status_code == 409).get_json()
    assert refused["fields"] == {"name": "at most 3 versions"}, refused
    assert stored_versions(app) == [1, 2, 3]
