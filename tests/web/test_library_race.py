"""Two uploads of one library name at once, on two real connections: the second checks the
name after the first committed and is refused naming `name`, leaving no file behind (before,
both passed the check and both answered 201 "created": the later one silently took over the
entry the other had just made, its file and tags replaced). Two replaces of one entry at once
take turns, and leave no file behind."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from shared.db import db
from shared.models import LibraryEntry, User
from tasks.pipeline import library_store
from tests.support.lock_waits import run_twice_paused_in
from tests.web.conftest import committed_user
from workers.media.tool import run_ffmpeg

NAME = "racing hit"


@pytest.fixture
def operator(app: Flask) -> Iterator[str]:
    """A committed operator's access token; the entries and files are removed afterwards."""
    user_id, token = committed_user(app, "operator")
    yield token
    with app.app_context():
        for uri in db.session.scalars(sa.select(LibraryEntry.uri)):
            library_store_path(app, uri).unlink(missing_ok=True)
        db.session.execute(sa.delete(LibraryEntry))
        db.session.execute(sa.delete(User).where(User.id == user_id))
        db.session.commit()
        db.session.remove()


def library_store_path(app: Flask, key: str) -> Path:
    """Where the artifact store keeps `key`."""
    return app.config["SETTINGS"].artifact_root / key


@pytest.fixture
def hit(tmp_path) -> Path:
    """A 0.5 s effect."""
    path = tmp_path / "hit.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=0.5:r=48000", "-c:a", "pcm_s16le", path])
    return path


def upload(app: Flask, token: str, path: Path) -> Any:
    """POST `path` as the effect NAME; the response."""
    form = {"kind": "sfx", "name": NAME, "file": (io.BytesIO(path.read_bytes()), path.name)}
    return app.test_client().post(
        "/api/anime/library/entries",
        data=form,
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_two_uploads_of_one_name_at_once_refuse_the_second_naming_name(
    app, operator, hit, monkeypatch
):
    responses = run_twice_paused_in(
        monkeypatch, library_store, "check_audio_file", lambda: upload(app, operator, hit)
    )

    assert sorted(r.status_code for r in responses) == [201, 409]
    refused = next(r for r in responses if r.status_code == 409).get_json()
    assert refused["fields"] == {"name": "already taken"}, refused
    stored = sorted(p.name for p in library_store_path(app, "library/sfx").glob("racing-hit*"))
    with app.app_context():
        uris = list(db.session.scalars(sa.select(LibraryEntry.uri)))
        db.session.remove()
    assert [Path(uri).name for uri in uris] == stored, "a refused upload left its file"


def replace(app: Flask, token: str, entry_id: int, path: Path) -> Any:
    """PUT `path` as entry `entry_id`'s new file; the response."""
    form = {"file": (io.BytesIO(path.read_bytes()), path.name)}
    return app.test_client().put(
        f"/api/anime/library/entries/{entry_id}",
        data=form,
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_two_replaces_of_one_entry_at_once_leave_only_the_last_file(
    app, operator, hit, monkeypatch
):
    created = upload(app, operator, hit)
    assert created.status_code == 201, created.get_json()
    entry_id = created.get_json()["id"]

    responses = run_twice_paused_in(
        monkeypatch,
        library_store,
        "check_audio_file",
        lambda: replace(app, operator, entry_id, hit),
    )

    assert [r.status_code for r in responses] == [200, 200], [r.get_json() for r in responses]
    stored = sorted(p.name for p in library_store_path(app, "library/sfx").glob("racing-hit*"))
    with app.app_context():
        uri = db.session.scalar(sa.select(LibraryEntry.uri).where(LibraryEntry.id == entry_id))
        db.session.remove()
    assert stored == [Path(uri).name], "a replaced file was left behind"
