"""Reading the recorded ComfyUI transcripts (fixtures) for the contract tests."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]


def fixtures_root() -> Path:
    """The real ComfyUI recordings, copied into the repository (tests/fixtures/comfyui)."""
    return REPO / "tests" / "fixtures" / "comfyui"


def read_json(path: Path) -> Any:
    """One JSON file."""
    return json.loads(path.read_text())


def frames(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a ws*.jsonl file."""
    with path.open() as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def binary_bytes(row: dict[str, Any]) -> bytes:
    """Rebuild a binary frame from its summary (the recordings keep only headers)."""
    kind = row["event_type"]
    if kind == 3:
        node = row["node_id"].encode()
        return struct.pack(">II", 3, len(node)) + node + row["text"].encode()
    if kind == 4:
        meta = json.dumps(row["metadata"]).encode()
        return struct.pack(">II", 4, len(meta)) + meta + bytes.fromhex(row["image_magic_hex"])
    head = bytes.fromhex(row["header_hex"])
    return head + bytes.fromhex(row.get("image_magic_hex", ""))


def prompt_ids(path: Path) -> list[str]:
    """Every prompt id named by a text frame of a transcript, in order of appearance."""
    seen: list[str] = []
    for row in frames(path):
        pid = row.get("msg", {}).get("data", {}).get("prompt_id") if row["kind"] == "text" else None
        if pid and pid not in seen:
            seen.append(pid)
    return seen


def transcripts() -> list[Path]:
    """Every recorded WebSocket transcript."""
    return sorted(fixtures_root().rglob("ws*.jsonl"))
