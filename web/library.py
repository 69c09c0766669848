"""The audio library as the API sees it: its moods and effect names, and checking a scene's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.db import db
from shared.errors import ValidationError
from tasks.pipeline.library_store import cue_library
from workers.media.library import known_words, unknown_cue


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
