"""Image nodes: EmptyImage, ImageInvert, ImageBatch, RepeatImageBatch, ImageFromBatch,
ImageScale, GetImageSize, LoadImage."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageOps

from comfy_emulator.media import resize_frames
from comfy_emulator.nodes.base import NodeClass
from comfy_emulator.storage import hash_file


def empty_image(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """A batch filled with one 0xRRGGBB colour."""
    color = int(i["color"])
    rgb = np.array([(color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF], dtype=np.uint8)
    frames = np.empty((int(i["batch_size"]), int(i["height"]), int(i["width"]), 3), np.uint8)
    frames[:] = rgb
    return (frames,), None


def invert_image(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """255 - pixels."""
    return (255 - i["image"],), None


def batch_images(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Concatenate, resizing image2 to image1's size like the real node."""
    first, second = i["image1"], i["image2"]
    second = resize_frames(second, first.shape[2], first.shape[1])
    return (np.concatenate([first, second]),), None


def repeat_images(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """The batch repeated amount times (RepeatImageBatch)."""
    return (np.concatenate([i["image"]] * int(i["amount"])),), None


def images_from_batch(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """A slice of the batch, clamped to it like the real node (ImageFromBatch)."""
    frames = i["image"]
    start = min(len(frames) - 1, int(i["batch_index"]))
    length = min(len(frames) - start, int(i["length"]))
    return (frames[start : start + length].copy(),), None


def scale_image(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Resize (0 keeps aspect), optionally centre-cropping first."""
    frames = i["image"]
    height, width = frames.shape[1:3]
    new_w, new_h = int(i["width"]), int(i["height"])
    if new_w == 0 and new_h == 0:
        return (frames,), None
    new_w = new_w or max(1, round(width * new_h / height))
    new_h = new_h or max(1, round(height * new_w / width))
    if i.get("crop") == "center":
        out = [np.asarray(ImageOps.fit(Image.fromarray(f), (new_w, new_h))) for f in frames]
        return (np.stack(out),), None
    return (resize_frames(frames, new_w, new_h),), None


def image_size(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """(width, height, batch) and the progress text the real node sends."""
    batch, height, width = i["image"].shape[:3]
    ctx.send_text(f"width: {width}, height: {height}\n batch size: {batch}")
    return (width, height, batch), None


def load_image(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Open an input (or annotated) image; a non-image raises PIL.UnidentifiedImageError."""
    path = ctx.storage.annotated_path(i["image"])
    with Image.open(path) as img:
        rgba = img.convert("RGBA")
    data = np.asarray(rgba)
    mask = 1.0 - data[..., 3].astype(np.float32) / 255.0
    return (data[None, ..., :3].copy(), mask[None]), None


def load_image_changed(storage: Any, inputs: dict[str, Any]) -> str:
    """IS_CHANGED: the file's sha256."""
    return hash_file(storage.annotated_path(inputs["image"]))


def check_image(storage: Any, inputs: dict[str, Any]) -> Any:
    """VALIDATE_INPUTS of LoadImage."""
    image = inputs.get("image")
    if not isinstance(image, str) or not storage.exists_annotated(image):
        return f"Invalid image file: {image}"
    return True


IMAGE_NODES = {
    "EmptyImage": NodeClass(empty_image),
    "ImageInvert": NodeClass(invert_image),
    "ImageBatch": NodeClass(batch_images),
    "RepeatImageBatch": NodeClass(repeat_images),
    "ImageFromBatch": NodeClass(images_from_batch),
    "ImageScale": NodeClass(scale_image),
    "GetImageSize": NodeClass(image_size),
    "LoadImage": NodeClass(
        load_image,
        is_changed=load_image_changed,
        validate_inputs=("image",),
        validate=check_image,
    ),
}
