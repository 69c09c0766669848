"""Server-Sent Events as Tower streams them: parsing a job's event stream into Events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event of a job's stream: its id, kind (stage or job) and data."""

    id: str | None
    kind: str
    data: dict[str, Any]


def parse_events(lines: Iterable[str | None]) -> Iterator[Event]:
    """Events from SSE lines (``id``, ``event``, ``data``; comments and ``retry`` skipped)."""
    entry_id, kind, data = None, "message", []
    for line in lines:
        if line is None:
            continue
        if not line:
            if data:
                try:
                    payload = json.loads("\n".join(data))
                except ValueError:
                    payload = {"text": "\n".join(data)}
                yield Event(entry_id, kind, payload)
            entry_id, kind, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            entry_id = value
        elif name == "event":
            kind = value
        elif name == "data":
            data.append(value)
