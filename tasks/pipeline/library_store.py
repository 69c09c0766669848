"""The audio library in the database: files under ARTIFACT_ROOT plus tags, chosen by mood."""

from __future__ import annotations

import math
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import after_commit
from shared.models import LibraryEntry
from workers.media.audio_check import check_audio_file
from workers.media.library import LibraryEntry as MediaEntry
from workers.media.library import make_entry
from workers.media.loudness import measure_file
from workers.media.synthesis import generate_demo_library
from workers.storage import LocalStore, remove_artifacts


def library_key(kind: str, name: str, suffix: str) -> str:
    """Where a new library file lives in the artifact store: a key of its own, since names
    that differ ("Rain loop", "rain-loop", any two without ASCII letters) slug alike, and one
    entry's upload must never overwrite (or its delete remove) another's file."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "entry"
    return f"library/{kind}/{slug}-{secrets.token_hex(6)}{suffix.lower()}"


def add_library_entry(
    session: Session,
    store: LocalStore,
    source: Path,
    *,
    kind: str,
    name: str,
    tags: Iterable[str],
    loop_start_s: float | None = None,
    loop_end_s: float | None = None,
    row: LibraryEntry | None = None,
) -> LibraryEntry:
    """Check an audio file, copy it into the store and add its library row (or update `row`,
    else the entry of that kind and name), with its duration and loudness measured.

    :raises ValidationError: bad kind, name or loop points, or a file that is not decodable
        audio of an accepted length and sample rate (field `file`).
    """
    facts = check_audio_file(source, kind=kind)
    loop = {"loop_start_s": loop_start_s, "loop_end_s": loop_end_s}
    entry = make_entry(source, kind=kind, name=name, tags=tags, duration_s=facts.duration_s, **loop)
    key = library_key(entry.kind, entry.name, source.suffix)
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / source.name
        shutil.copyfile(source, staged)
        store.put_file(key, staged)
    loudness = measure_file(store.path(key), true_peak=False).integrated_lufs
    if row is None:
        row = session.scalar(
            sa.select(LibraryEntry).where(
                LibraryEntry.kind == entry.kind, LibraryEntry.name == entry.name
            )
        )
    if row is None:
        row = LibraryEntry(kind=entry.kind, name=entry.name)
        session.add(row)
    replaced = row.uri
    row.name = entry.name
    row.uri = key
    row.tags = list(entry.tags)
    row.duration_s = entry.duration_s
    row.loop_start_s, row.loop_end_s = entry.loop_start_s, entry.loop_end_s
    row.sample_rate = facts.sample_rate
    row.loudness_lufs = loudness if math.isfinite(loudness) else None
    session.flush()
    if replaced:  # the entry's previous file, once its row names the new one for good
        after_commit(session, lambda: remove_artifacts(store, [replaced]))
    return row


def cue_library(session: Session, store: LocalStore | None = None) -> list[MediaEntry]:
    """The library rows as media entries (paths in `store`, or the keys without one)."""
    rows = session.scalars(sa.select(LibraryEntry).order_by(LibraryEntry.id))
    return [
        make_entry(
            store.path(row.uri) if store else row.uri,
            kind=row.kind,
            name=row.name,
            tags=row.tags,
            duration_s=row.duration_s,
            loop_start_s=row.loop_start_s,
            loop_end_s=row.loop_end_s,
        )
        for row in rows
    ]


def add_demo_library(session: Session, store: LocalStore) -> list[LibraryEntry]:
    """Synthesise the demo music loops and effects and register them (idempotent)."""
    with tempfile.TemporaryDirectory() as folder:
        return [
            add_library_entry(session, store, Path(e.path), kind=e.kind, name=e.name, tags=e.tags)
            for e in generate_demo_library(folder)
        ]
