"""Output nodes for pictures and values: SaveImage, PreviewImage, PreviewAny, SaveImageWebsocket."""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

from comfy_emulator.media import png_bytes, png_metadata, write_png
from comfy_emulator.nodes.base import NodeClass


def _save_frames(ctx: Any, i: dict[str, Any], prefix: str, kind: str) -> list[dict[str, str]]:
    frames = i["images"]
    height, width = frames.shape[1:3]
    folder, name, counter, subfolder = ctx.storage.save_path(prefix, kind, width, height)
    text = png_metadata(i.get("prompt"), i.get("extra_pnginfo"))
    results = []
    for batch_number, frame in enumerate(frames):
        base = name.replace("%batch_num%", str(batch_number))
        filename = f"{base}_{counter:05}_.png"
        write_png(os.path.join(folder, filename), frame, text)
        results.append({"filename": filename, "subfolder": subfolder, "type": kind})
        counter += 1
    return results


def save_image(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """PNG files <prefix>_<counter>_.png in the output folder."""
    return (), {"images": _save_frames(ctx, i, i["filename_prefix"], "output")}


def preview_image(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """PNG files in temp under ComfyUI_temp_<5 random letters>."""
    suffix = "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))
    prefix = "ComfyUI_temp_" + suffix
    return (), {"images": _save_frames(ctx, i, prefix, "temp")}


def preview_any(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """{"text": [value as text]} like the real PreviewAny."""
    value = i.get("source")
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float, bool)):
        text = str(value)
    else:
        try:
            text = json.dumps(value, indent=4)
        except (TypeError, ValueError):
            text = str(value)
    return (), {"text": [text]}


def save_websocket(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """Stream each image as a binary preview frame through the progress hook; no files."""
    frames = i["images"]
    total = len(frames)
    for step, frame in enumerate(frames):
        ctx.progress(step, total, png_bytes(frame))
    return (), {}


SAVER_NODES = {
    "SaveImage": NodeClass(save_image),
    "PreviewImage": NodeClass(preview_image),
    "PreviewAny": NodeClass(preview_any),
    # IS_CHANGED returns the time, so it is never served from the cache.
    "SaveImageWebsocket": NodeClass(save_websocket, is_changed=lambda s, i: time.time()),
}
