"""The music and sound-effect library: audio files plus tags, stored as a JSON index."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from shared.errors import NotFoundError, ValidationError

INDEX_NAME = "library.json"
KINDS = ("music", "sfx")


@dataclass(frozen=True)
class LibraryEntry:
    """One audio file in the library: what it is (music or sfx), its name and tags."""

    path: str
    kind: str
    name: str
    tags: tuple[str, ...]
    duration_s: float

    def to_dict(self) -> dict[str, object]:
        """A JSON-able form."""
        return {**asdict(self), "tags": list(self.tags)}


def make_entry(
    path: str | Path, *, kind: str, name: str, tags: Iterable[str], duration_s: float
) -> LibraryEntry:
    """Build an entry with normalised tags.

    :raises ValidationError: on an unknown kind, no name or a non-positive duration.
    """
    fields = {}
    if kind not in KINDS:
        fields["kind"] = f"one of {', '.join(KINDS)}"
    if not name.strip():
        fields["name"] = "required"
    if duration_s <= 0:
        fields["duration_s"] = "must be positive"
    if fields:
        raise ValidationError("invalid library entry", fields=fields)
    clean = tuple(sorted({t.strip().lower() for t in tags if t.strip()}))
    return LibraryEntry(str(path), kind, name.strip(), clean, float(duration_s))


def save_library(entries: Sequence[LibraryEntry], folder: str | Path) -> Path:
    """Write the index of `entries` into `folder` atomically and return its path."""
    index = Path(folder) / INDEX_NAME
    tmp = index.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([e.to_dict() for e in entries], indent=2))
    os.replace(tmp, index)
    return index


def load_library(folder: str | Path) -> list[LibraryEntry]:
    """Read the index in `folder`; relative paths resolve against the folder.

    :raises NotFoundError: when the folder has no index.
    """
    index = Path(folder) / INDEX_NAME
    if not index.is_file():
        raise NotFoundError(f"no music library index at {index}")
    entries = []
    for raw in json.loads(index.read_text()):
        path = Path(raw["path"])
        path = path if path.is_absolute() else Path(folder) / path
        entries.append(make_entry(path, **{k: v for k, v in raw.items() if k != "path"}))
    return entries


def choose_cue(
    library: Sequence[LibraryEntry],
    mood: str | Iterable[str],
    *,
    kind: str = "music",
    avoid: Iterable[str] = (),
) -> LibraryEntry:
    """The entry of `kind` whose tags best match `mood` ("tense" or "tense, dark").

    Ties go to an entry not in `avoid` (paths of cues just used, so consecutive scenes of
    one mood do not repeat a loop), then by name, so the choice is deterministic. With no
    tag in common, a `neutral` entry is preferred, then any entry of the kind.

    :raises NotFoundError: when the library holds nothing of `kind`.
    """
    words = mood.replace(",", " ").split() if isinstance(mood, str) else list(mood)
    wanted = {w.strip().lower() for w in words if w.strip()}
    avoided = set(avoid)
    candidates = [e for e in library if e.kind == kind]
    if not candidates:
        raise NotFoundError(f"the library has no {kind} entries")

    def score(entry: LibraryEntry) -> tuple[int, int, int, str]:
        overlap = len(wanted & set(entry.tags))
        return (-overlap, entry.path in avoided, "neutral" not in entry.tags, entry.name)

    return min(candidates, key=score)
