"""Output and upload file references as ComfyUI reports them, read generically."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

FILE_KEYS = ("filename", "subfolder", "type")
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class OutputFile:
    """One file an output node wrote; `kind` is the UI key it was listed under (images, gifs)."""

    node_id: str
    filename: str
    subfolder: str
    type: str
    kind: str
    format: str | None = None
    frame_rate: float | None = None

    @property
    def animated(self) -> bool:
        """Whether the entry is a video or animation rather than a still."""
        if self.kind in ("gifs", "videos", "animated"):
            return True
        return self.filename.lower().endswith((".mp4", ".webm", ".webp", ".gif", ".mov", ".mkv"))

    def view_params(self) -> dict[str, str]:
        """The query of `GET /view` for this file."""
        return {"filename": self.filename, "subfolder": self.subfolder, "type": self.type}


@dataclass(frozen=True)
class UploadedFile:
    """A file stored by `POST /upload/image`; use `reference` in LoadImage-style inputs."""

    name: str
    subfolder: str
    type: str

    @property
    def reference(self) -> str:
        """The value a LoadImage `image` input takes for this upload."""
        return f"{self.subfolder}/{self.name}" if self.subfolder else self.name


def _file_entries(node_id: str, output: Mapping[str, Any]) -> Iterator[OutputFile]:
    """Yield every dict with filename/subfolder/type under any list-valued key."""
    for kind, values in output.items():
        if not isinstance(values, list):
            continue
        for entry in values:
            if not isinstance(entry, dict) or not all(k in entry for k in FILE_KEYS):
                continue
            rate = entry.get("frame_rate")
            yield OutputFile(
                node_id=str(node_id),
                filename=str(entry["filename"]),
                subfolder=str(entry["subfolder"] or ""),
                type=str(entry["type"]),
                kind=str(kind),
                format=entry.get("format"),
                frame_rate=float(rate) if isinstance(rate, int | float) else None,
            )


def files_of_node(node_id: str, output: Mapping[str, Any]) -> list[OutputFile]:
    """The files in one node's UI output dict."""
    if not isinstance(output, Mapping):
        return []
    return list(_file_entries(node_id, output))


def output_files(outputs: Mapping[str, Any]) -> list[OutputFile]:
    """Every file in a history `outputs` mapping (node id -> UI dict), in node-id order."""
    found: list[OutputFile] = []
    for node_id in sorted(outputs, key=_node_sort_key):
        found.extend(files_of_node(node_id, outputs[node_id]))
    return found


def _node_sort_key(node_id: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order, then the rest by name."""
    return (0, int(node_id)) if str(node_id).isdigit() else (1, str(node_id))


def safe_name(name: str, *, fallback: str = "output") -> str:
    """A server-supplied file name reduced to a harmless base name (no folders, no dots-only)."""
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    base = UNSAFE_NAME.sub("_", base).strip(" .")
    return base[:200] or fallback
