"""The audio library: files copied into the store, measured, tagged; re-adding replaces."""

from __future__ import annotations

import sqlalchemy as sa

from shared.models import LibraryEntry
from tasks.pipeline.library_store import add_demo_library, add_library_entry
from workers.storage import LocalStore


def test_demo_library_registers_music_per_mood_and_effects(db_session, tmp_path):
    store = LocalStore(tmp_path)
    rows = add_demo_library(db_session, store)
    kinds = {(r.kind, r.name) for r in rows}
    assert ("music", "calm loop") in kinds and ("sfx", "whoosh") in kinds
    for row in rows:
        assert store.exists(row.uri) and row.duration_s > 0 and row.loudness_lufs < 0
    add_demo_library(db_session, store)
    count = db_session.scalar(sa.select(sa.func.count()).select_from(LibraryEntry))
    assert count == len(rows), "adding the demo library twice must not duplicate it"


def test_re_adding_an_entry_replaces_its_file_and_tags(db_session, tmp_path):
    store = LocalStore(tmp_path / "store")
    first = add_demo_library(db_session, store)[0]
    source = store.path(first.uri)
    again = add_library_entry(
        db_session, store, source, kind="music", name=first.name, tags=["Night", " calm "]
    )
    assert again.id == first.id and again.tags == ["calm", "night"]


def test_a_replaced_file_goes_only_when_the_replacement_commits(db_session, tmp_path):
    """Its row still names the old file until the commit: a rollback must find it there."""
    store = LocalStore(tmp_path / "store")
    first = add_demo_library(db_session, store)[0]
    db_session.commit()
    old_key = first.uri
    source = tmp_path / "again.wav"
    source.write_bytes(store.path(old_key).read_bytes())

    add_library_entry(db_session, store, source, kind="music", name=first.name, tags=["calm"])
    assert store.exists(old_key)
    db_session.rollback()
    assert store.exists(old_key) and db_session.get(LibraryEntry, first.id).uri == old_key

    again = add_library_entry(db_session, store, source, kind="music", name=first.name, tags=[])
    db_session.commit()
    assert not store.exists(old_key) and store.exists(again.uri)
