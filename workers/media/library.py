"""The music and sound-effect library: audio files plus tags, stored as a JSON index; choosing
a cue by mood or effect name, and refusing a name the library does not know."""

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
    loop_start_s: float | None = None
    loop_end_s: float | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-able form."""
        return {**asdict(self), "tags": list(self.tags)}


def make_entry(
    path: str | Path,
    *,
    kind: str,
    name: str,
    tags: Iterable[str],
    duration_s: float,
    loop_start_s: float | None = None,
    loop_end_s: float | None = None,
) -> LibraryEntry:
    """Build an entry with normalised tags.

    :raises ValidationError: on an unknown kind, no name, a non-positive duration, or loop
        points that are not a stretch of a music file.
    """
    fields = {}
    if kind not in KINDS:
        fields["kind"] = f"one of {', '.join(KINDS)}"
    if not name.strip():
        fields["name"] = "required"
    if duration_s <= 0:
        fields["duration_s"] = "must be positive"
    fields |= check_loop(kind, duration_s, loop_start_s, loop_end_s)
    if fields:
        raise ValidationError("invalid library entry", fields=fields)
    clean = tuple(sorted({t.strip().lower() for t in tags if t.strip()}))
    return LibraryEntry(
        str(path), kind, name.strip(), clean, float(duration_s), loop_start_s, loop_end_s
    )


def check_loop(
    kind: str, duration_s: float, start: float | None, end: float | None
) -> dict[str, str]:
    """Problems with loop points, by field (none when both are absent)."""
    if start is None and end is None:
        return {}
    if kind != "music":
        return {"loop_start_s": "only music loops"}
    if start is None or end is None:
        return {"loop_start_s" if start is None else "loop_end_s": "give both loop points"}
    if not 0 <= start < end <= duration_s:
        return {"loop_end_s": f"needs 0 <= loop_start_s < loop_end_s <= {duration_s:g} s"}
    return {}


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


def cue_words(text: str | Iterable[str]) -> set[str]:
    """The lower-case words of a mood or effect ("tense, dark" -> {"tense", "dark"})."""
    words = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return {w.strip().lower() for w in words if w.strip()}


def known_words(library: Sequence[LibraryEntry], kind: str) -> list[str]:
    """What a cue of `kind` may name: the tags of its entries (and, for effects, their names)."""
    words = {t for e in library if e.kind == kind for t in e.tags}
    if kind == "sfx":
        words |= {e.name.lower() for e in library if e.kind == kind}
    return sorted(words)


def unknown_cue(library: Sequence[LibraryEntry], text: str, kind: str) -> str | None:
    """Why `text` names nothing in the library's `kind` entries, or None when it is known.

    A library with no entries of the kind knows nothing and checks nothing (no cue is laid).
    """
    known = known_words(library, kind)
    if not known or text.strip().lower() in known:
        return None
    unknown = sorted(cue_words(text) - set(known))
    if not unknown and cue_words(text):
        return None
    what = "mood" if kind == "music" else "sound effect"
    return f"unknown {what} {', '.join(unknown) or repr(text)}; known: {', '.join(known)}"


def choose_cue(
    library: Sequence[LibraryEntry],
    mood: str | Iterable[str],
    *,
    kind: str = "music",
    avoid: Iterable[str] = (),
) -> LibraryEntry:
    """The entry of `kind` whose tags best match `mood` ("tense" or "tense, dark"); an effect
    may also be named by its entry's name.

    Ties go to an entry not in `avoid` (paths of cues just used, so consecutive scenes of
    one mood do not repeat a loop), then by name, so the choice is deterministic. A word no
    entry of the kind carries is refused, never replaced by another cue.

    :raises NotFoundError: when the library holds nothing of `kind`.
    :raises ValidationError: when `mood` names a word the library does not know.
    """
    candidates = [e for e in library if e.kind == kind]
    if not candidates:
        raise NotFoundError(f"the library has no {kind} entries")
    text = mood if isinstance(mood, str) else ", ".join(mood)
    named = [e for e in candidates if e.name.lower() == text.strip().lower()]
    if named:
        return named[0]
    problem = unknown_cue(library, text, kind)
    if problem:
        raise ValidationError(problem, fields={"mood" if kind == "music" else "sound": problem})
    wanted = cue_words(text)
    avoided = set(avoid)

    def score(entry: LibraryEntry) -> tuple[int, int, str]:
        overlap = len(wanted & set(entry.tags))
        return (-overlap, entry.path in avoided, entry.name)

    return min(candidates, key=score)
