"""The audio library as the API sees it: its entries (listed, uploaded, replaced, deleted),
its moods and effect names, and checking a scene's."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, request
from marshmallow import ValidationError as SchemaError
from werkzeug.datastructures import FileStorage

from shared.db import db
from shared.errors import ConflictError, NotFoundError, ValidationError
from shared.models import LibraryEntry
from tasks.pipeline.library_store import add_library_entry, cue_library
from web.schemas.common import MAX_NAME, check_storable
from workers.media.library import known_words, unknown_cue
from workers.storage import LocalStore

SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")
REPEATABLE_FIELDS = frozenset({"tags"})  # the form's fields that may be given more than once
# Advisory lock class of an entry's kind and name (with hashtext); see lock_entry_name.
NAME_LOCK = 0x11B7A3


def store() -> LocalStore:
    """The artifact store the library's files live in."""
    return LocalStore(current_app.config["SETTINGS"].artifact_root)


def list_entries(kind: str | None) -> list[LibraryEntry]:
    """Every entry (of `kind`), by kind and name."""
    stmt = sa.select(LibraryEntry).order_by(LibraryEntry.kind, LibraryEntry.name)
    if kind:
        stmt = stmt.where(LibraryEntry.kind == kind)
    return list(db.session.scalars(stmt))


def get_entry(entry_id: int, *, lock: bool = False) -> LibraryEntry:
    """One entry; `lock`: held for this transaction, as a change to it needs (two replaces at
    once each read the file they replace after the other committed, so neither file is left
    behind unreferenced).

    :raises NotFoundError: when there is none with this id.
    """
    entry = db.session.get(LibraryEntry, entry_id, with_for_update=lock)
    if entry is None:
        raise NotFoundError(f"library entry {entry_id} not found")
    return entry


def uploaded_file() -> FileStorage:
    """The request form's `file`.

    :raises ValidationError: when the form carries none, or repeats a field.
    """
    refuse_repeated_fields()
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError("the form has no file", fields={"file": "required"})
    return upload


def refuse_repeated_fields() -> None:
    """Refuse a form that gives a field (or the file) more than once, `tags` aside: only the
    first would be read and the rest dropped without a word.

    :raises ValidationError: naming each repeated field.
    """
    counts = Counter()
    for key, values in (*request.form.lists(), *request.files.lists()):
        counts[key] += len(values)
    repeated = sorted(k for k, n in counts.items() if n > 1 and k not in REPEATABLE_FIELDS)
    if repeated:
        raise ValidationError(
            "the form repeats a field that takes one value",
            fields={name: "given more than once" for name in repeated},
        )


def create_entry(upload: FileStorage, data: dict[str, Any]) -> LibraryEntry:
    """Check an uploaded file and add it as a new entry.

    :raises ConflictError: when the kind already has an entry of that name.
    :raises ValidationError: when the file or the loop points are refused.
    """
    name = data["name"].strip() if data.get("name") else name_from_file(upload)
    lock_entry_name(data["kind"], name)
    if db.session.scalar(
        sa.select(LibraryEntry.id).where(
            LibraryEntry.kind == data["kind"], LibraryEntry.name == name
        )
    ):
        raise ConflictError(
            f"the library already has {data['kind']} named {name!r}: replace it with PUT",
            fields={"name": "already taken"},
        )
    return save_upload(upload, {**data, "name": name})


def lock_entry_name(kind: str, name: str) -> None:
    """Hold an entry name of a kind for this transaction, so that simultaneous uploads of it
    take turns: each checks the name after the one before committed (else both passed the
    check, and the later one silently took over the earlier's entry, or was refused with no
    field named)."""
    key = sa.func.hashtext(f"{kind}:{name}")
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(NAME_LOCK, key)))


def name_from_file(upload: FileStorage) -> str:
    """The name of an entry uploaded without one: its file's name without the suffix, held to
    the `name` field's rules (past them Postgres refused the row, naming no field).

    :raises ValidationError: naming `name` when the file's name cannot be an entry's.
    """
    name = Path(upload.filename or "").stem.strip()
    problem = None
    if len(name) > MAX_NAME:
        problem = f"the file's name gives {len(name)} characters, more than {MAX_NAME}"
    else:
        try:
            check_storable(name)
        except SchemaError as exc:
            problem = f"the file's name {exc.messages[0]}"
    if problem:
        raise ValidationError(
            f"{problem}: send a name for the entry", fields={"name": f"{problem}; send one"}
        )
    return name


def replace_entry(entry: LibraryEntry, upload: FileStorage, data: dict[str, Any]) -> LibraryEntry:
    """Put a new file (and name, tags, loop points) in an entry; loop points not given are
    cleared, since they belonged to the old file.

    :raises ConflictError: when another entry of the kind has the new name.
    :raises ValidationError: when the kind would change, or the file or the loop points are
        refused.
    """
    if data.get("kind") not in (None, entry.kind):
        raise ValidationError("an entry's kind cannot change", fields={"kind": "cannot change"})
    # Stripped as the row stores it (and as an upload's name is), so the check sees the clash.
    name = data["name"].strip() if data.get("name") else entry.name
    lock_entry_name(entry.kind, name)
    if db.session.scalar(
        sa.select(LibraryEntry.id).where(
            LibraryEntry.kind == entry.kind, LibraryEntry.name == name, LibraryEntry.id != entry.id
        )
    ):
        raise ConflictError(f"another {entry.kind} is named {name!r}", fields={"name": "taken"})
    tags = data["tags"] if data.get("tags") is not None else entry.tags
    return save_upload(upload, {**data, "kind": entry.kind, "name": name, "tags": tags}, entry)


def save_upload(
    upload: FileStorage, data: dict[str, Any], row: LibraryEntry | None = None
) -> LibraryEntry:
    """Stream the upload to a scratch file, check and store it, and commit its row.

    :raises ValidationError: when the file or the loop points are refused.
    """
    suffix = Path(upload.filename or "").suffix.lower()
    suffix = suffix if SUFFIX.fullmatch(suffix) else ".audio"
    with tempfile.TemporaryDirectory(prefix="tower-upload-") as folder:
        source = Path(folder) / f"upload{suffix}"
        upload.save(source)
        row = add_library_entry(
            db.session,
            store(),
            source,
            kind=data["kind"],
            name=data["name"],
            tags=data.get("tags") or (),
            loop_start_s=data.get("loop_start_s"),
            loop_end_s=data.get("loop_end_s"),
            row=row,
        )
    db.session.commit()
    return row


def delete_entry(entry: LibraryEntry) -> None:
    """Remove an entry and its file."""
    key = entry.uri
    db.session.delete(entry)
    db.session.commit()
    store().delete(key)


def list_vocabulary(kind: str) -> list[str]:
    """Every mood (kind music) or effect name and tag (kind sfx) a scene may use."""
    return known_words(cue_library(db.session), kind)


def check_scene_audio(data: Mapping[str, Any], *, prefix: str = "") -> None:
    """Refuse a scene whose mood or effects the library does not know, listing the known ones.

    :raises ValidationError: naming every unknown field at once.
    """
    wanted: list[tuple[str, str, str]] = []
    if data.get("mood") is not None:
        wanted.append((f"{prefix}mood", data["mood"], "music"))
    for index, cue in enumerate(data.get("sfx_cues") or ()):
        wanted.append((f"{prefix}sfx_cues.{index}.name", cue["name"], "sfx"))
    refuse_unknown(wanted)


def refuse_unknown(wanted: Iterable[tuple[str, str, str]]) -> None:
    """Check (field, text, kind) triples against the library.

    :raises ValidationError: naming every unknown one.
    """
    wanted = list(wanted)
    if not wanted:
        return
    library = cue_library(db.session)
    fields = {}
    for field, text, kind in wanted:
        problem = unknown_cue(library, text, kind)
        if problem:
            fields[field] = problem
    if fields:
        raise ValidationError("; ".join(fields.values()), fields=fields)
