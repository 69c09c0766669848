"""Local names of downloaded outputs, built from what the farm answers: never trusted, so
every piece is reduced to letters, digits, `_` and `-`, and the result must stay inside the
folder the user chose."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tower_client.errors import UnsafeResponseError

UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
EXTENSIONS = {
    "video/mp4": ".mp4",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "application/json": ".json",
    "text/vtt": ".vtt",
    "application/x-subrip": ".srt",
}


def asset_id(value: Any) -> int:
    """An asset id from the farm's answer.

    :raises UnsafeResponseError: when it is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnsafeResponseError(f"the farm sent a malformed asset id: {value!r}")
    return value


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, checked to be a file directly inside `folder` once resolved.

    :raises UnsafeResponseError: when it is not (a name with separators or `..`).
    """
    root = folder.resolve()
    path = (root / name).resolve()
    if path.parent != root or name in ("", ".", ".."):
        raise UnsafeResponseError(f"the farm named a file outside {folder}: {name!r}")
    return folder / name


def name_part(value: Any, limit: int = 40) -> str:
    """A piece of a local file name from a farm-supplied value: letters, digits, `_` and `-`
    only (anything else becomes `_`), at most `limit` characters."""
    return UNSAFE_NAME.sub("_", str(value)).strip("_")[:limit] or "x"


def file_name(
    asset: dict[str, Any], stage: dict[str, Any] | None, stem: str, *, single: bool = False
) -> str:
    """A readable local name for an asset, after its production (`stem`): the job's one output
    as `<stem>.mp4`, other job outputs by kind, stage outputs by scene order and stage."""
    ext = EXTENSIONS.get(str(asset.get("mime_type")), ".bin")
    ident = name_part(asset["id"])
    base = name_part(stem, 80)
    if stage is None:
        return f"{base}{ext}" if single else f"{base}-{name_part(asset['kind'])}-{ident}{ext}"
    order = stage.get("scene_order")
    if order is None and stage.get("scene_id"):
        order = f"id{stage['scene_id']}"  # a farm that does not send scene orders
    scene = f"scene{name_part(order)}-" if order is not None else ""
    return f"{base}-{scene}{name_part(stage['stage'])}-{ident}{ext}"
