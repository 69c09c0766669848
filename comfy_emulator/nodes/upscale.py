"""Upscale model nodes: UpscaleModelLoader and ImageUpscaleWithModel (ComfyUI core)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from comfy_emulator.media import resize_frames
from comfy_emulator.nodes.base import NodeClass

# Upscale model files name their factor (RealESRGAN_x4plus, 4x-UltraSharp, x2...).
FACTOR = re.compile(r"(?:^|[^a-z0-9])(?:x(\d)|(\d)x)(?:[^0-9]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class UpscaleModel:
    """What the loader hands on: the model's name and its fixed scale."""

    name: str
    scale: int


def load_upscale_model(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """The named model; its scale read from the file name (4 when it says none, like ESRGAN)."""
    name = i["model_name"]
    found = FACTOR.search(name)
    scale = int(found.group(1) or found.group(2)) if found else 4
    return (UpscaleModel(name, scale),), None


def upscale_with_model(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Every frame at the model's scale, one progress step (and one sampling step) per frame,
    as the real node reports its tiles."""
    model: UpscaleModel = i["upscale_model"]
    frames = i["image"]
    height, width = frames.shape[1:3]
    out = []
    for index, frame in enumerate(frames):
        ctx.sampler_step()
        out.append(resize_frames(frame[None], width * model.scale, height * model.scale)[0])
        ctx.progress(index + 1, len(frames))
    return (np.stack(out),), None


UPSCALE_NODES = {
    "UpscaleModelLoader": NodeClass(load_upscale_model),
    "ImageUpscaleWithModel": NodeClass(upscale_with_model),
}
