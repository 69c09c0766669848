"""Frame and video nodes: RIFE VFI, VHS load/combine, CreateVideo and the core video savers."""

from __future__ import annotations

import datetime
import os
from typing import Any

import numpy as np
from PIL import Image

from comfy_emulator.downloads import download_failure
from comfy_emulator.media import (
    png_metadata,
    read_video,
    resize_frames,
    write_animation,
    write_png,
    write_video,
)
from comfy_emulator.nodes.base import NodeClass
from comfy_emulator.storage import IMAGE_EXTENSIONS, hash_file
from comfy_emulator.vhs_writer import Target, write_format_video


def interpolate(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """(N-1)*multiplier+1 frames: each frame, its blended in-betweens, then the last frame.

    A checkpoint the node lists but has not got fails as the offline download does.
    """
    if not ctx.catalog.has_model("rife", i["ckpt_name"]):
        raise download_failure(i["ckpt_name"])
    frames = i["frames"]
    multiplier = int(i["multiplier"])
    out = []
    for index in range(len(frames) - 1):
        a = frames[index].astype(np.float32)
        b = frames[index + 1].astype(np.float32)
        out.append(frames[index])
        for k in range(1, multiplier):
            t = k / multiplier
            out.append(((1 - t) * a + t * b).round().astype(np.uint8))
    out.append(frames[-1])
    return (np.stack(out),), None


def _frame_files(folder: str) -> list[str]:
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))


def load_images(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Frames of an input subfolder in sorted() name order (cap, skip, every nth)."""
    folder = ctx.storage.annotated_path(i["directory"].strip())
    files = _frame_files(folder)[int(i.get("skip_first_images", 0) or 0) :]
    files = files[:: int(i.get("select_every_nth", 1) or 1)]
    cap = int(i.get("image_load_cap", 0) or 0)
    if cap > 0:
        files = files[:cap]
    if not files:
        raise FileNotFoundError(f"No images could be loaded from directory '{folder}'.")
    frames = []
    for index, name in enumerate(files):
        with Image.open(os.path.join(folder, name)) as img:
            frames.append(np.asarray(img.convert("RGB")))
        if 0 < index + 1 < len(files):
            ctx.progress(index + 1, len(files))
    height, width = frames[0].shape[:2]
    stack = np.stack([resize_frames(f[None], width, height)[0] for f in frames])
    masks = np.zeros(stack.shape[:3], np.float32)
    return (stack, masks, len(frames)), None


def load_images_changed(storage: Any, inputs: dict[str, Any]) -> str:
    """IS_CHANGED: names and mtimes of the folder's frames plus the selection inputs."""
    folder = storage.annotated_path(str(inputs["directory"]).strip())
    stamp = [(f, os.path.getmtime(os.path.join(folder, f))) for f in _frame_files(folder)]
    return repr((stamp, sorted((k, repr(v)) for k, v in inputs.items())))


def check_directory(storage: Any, inputs: dict[str, Any]) -> Any:
    """VALIDATE_INPUTS of VHS_LoadImages (validate_load_images)."""
    folder = storage.annotated_path(str(inputs.get("directory", "")).strip())
    if not os.path.isdir(folder):
        return f"Directory '{folder}' cannot be found."
    if not os.listdir(folder):
        return f"No files in directory '{folder}'."
    return True


def load_video(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Decode an input video; size rounded to the format's multiple (8 for AnimateDiff)."""
    path = ctx.storage.annotated_path(i["video"])
    frames, fps = read_video(path)
    frames = frames[int(i.get("skip_first_frames", 0)) :][:: int(i.get("select_every_nth", 1))]
    cap = int(i.get("frame_load_cap", 0))
    if cap > 0:
        frames = frames[:cap]
    height, width = frames.shape[1:3]
    new_w = int(i.get("custom_width", 0)) or width
    new_h = int(i.get("custom_height", 0)) or height
    multiple = {"None": 1}.get(i.get("format", "AnimateDiff"), 8)
    new_w, new_h = (
        max(multiple, new_w // multiple * multiple),
        max(multiple, new_h // multiple * multiple),
    )
    frames = resize_frames(frames, new_w, new_h)
    info = {
        "source_fps": fps,
        "source_frame_count": len(frames),
        "source_width": width,
        "source_height": height,
        "loaded_fps": fps,
        "loaded_frame_count": len(frames),
        "loaded_width": new_w,
        "loaded_height": new_h,
    }
    return (frames, len(frames), None, info), None


def check_video(storage: Any, inputs: dict[str, Any]) -> Any:
    """VALIDATE_INPUTS of VHS_LoadVideo."""
    video = inputs.get("video")
    if not isinstance(video, str) or not storage.exists_annotated(video):
        return f"Invalid video file: {video}"
    return True


def combine_video(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """VHS: first-frame PNG (with the prompt) plus the video, reported under gifs.

    `image/*` formats go through Pillow, `video/*` through ffmpeg with the pack's own format
    definition; progress is reported per frame as it is written.
    """
    frames = i["images"]
    kind = "output" if i.get("save_output", True) else "temp"
    fmt = i["format"]
    folder, name, counter, subfolder = ctx.storage.vhs_save_path(i["filename_prefix"], kind)
    prompt, extra = i.get("prompt"), i.get("extra_pnginfo")
    first = f"{name}_{counter:05}.png"
    text = png_metadata(prompt, extra)
    if prompt is None:
        del text["prompt"]
    text["CreationTime"] = datetime.datetime.now().isoformat(" ")[:19]
    write_png(os.path.join(folder, first), frames[0], text)
    rate = float(i["frame_rate"])
    format_type, format_ext = fmt.split("/")
    if format_type == "image":
        if i.get("pingpong"):
            frames = np.concatenate([frames, frames[-2:0:-1]])
        for index in range(1, len(frames) + 1):
            ctx.progress(index, len(frames))
        filename = f"{name}_{counter:05}.{format_ext}"
        write_animation(
            os.path.join(folder, filename), frames, rate, format_ext,
            loop=int(i.get("loop_count", 0)), lossless=i.get("lossless", True),
        )  # fmt: skip
    else:
        metadata = {"prompt": prompt} if prompt is not None else {}
        metadata.update(extra if isinstance(extra, dict) else {})
        target = Target(folder, name, counter, ctx.storage.dirs["temp"])
        filename = write_format_video(frames, format_ext, i, target, metadata, ctx.progress)
    path = os.path.join(folder, filename)
    entry = {
        "filename": filename,
        "subfolder": subfolder,
        "type": kind,
        "format": fmt,
        "frame_rate": rate,
        "workflow": first,
        "fullpath": path,
    }
    if len(frames) == 1 and "png" in fmt and "%03d" in filename:
        entry.update(format="image/png", filename=filename.replace("%03d", "001"))
    return ((i.get("save_output", True), [os.path.join(folder, first), path]),), {"gifs": [entry]}


def create_video(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """A VIDEO value: frames and fps."""
    return ({"images": i["images"], "fps": float(i["fps"])},), None


def _core_save(ctx: Any, frames: np.ndarray, prefix: str, ext: str, write: Any) -> dict:
    height, width = frames.shape[1:3]
    folder, name, counter, subfolder = ctx.storage.save_path(prefix, "output", width, height)
    filename = f"{name}_{counter:05}_.{ext}"
    write(os.path.join(folder, filename))
    return {
        "images": [{"filename": filename, "subfolder": subfolder, "type": "output"}],
        "animated": [True],
    }


def save_video(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """Core SaveVideo: H.264 MP4, reported under images + animated."""
    video = i["video"]
    ui = _core_save(
        ctx,
        video["images"],
        i["filename_prefix"],
        "mp4",
        lambda p: write_video(p, video["images"], video["fps"], "h264"),
    )
    return (), ui


def save_webm(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """Core SaveWEBM: VP9 WEBM."""
    frames = i["images"]
    ui = _core_save(
        ctx,
        frames,
        i["filename_prefix"],
        "webm",
        lambda p: write_video(p, frames, float(i["fps"]), "vp9", int(i["crf"])),
    )
    return (), ui


def save_webp(ctx: Any, i: dict[str, Any]) -> tuple[tuple, dict]:
    """Core SaveAnimatedWEBP."""
    frames = i["images"]
    method = {"default": 4, "fastest": 0, "slowest": 6}.get(i.get("method"), 4)
    ui = _core_save(
        ctx,
        frames,
        i["filename_prefix"],
        "webp",
        lambda p: write_animation(
            p,
            frames,
            float(i["fps"]),
            "webp",
            lossless=i["lossless"],
            quality=i["quality"],
            method=method,
        ),
    )
    return (), ui


VIDEO_NODES = {
    "RIFE VFI": NodeClass(interpolate),
    "VHS_LoadImages": NodeClass(
        load_images,
        is_changed=load_images_changed,
        validate_inputs=("directory",),
        validate_kwargs=True,
        validate=check_directory,
    ),
    "VHS_LoadVideo": NodeClass(
        load_video,
        is_changed=lambda s, i: hash_file(s.annotated_path(i["video"])),
        validate_inputs=("video",),
        validate=check_video,
    ),
    "VHS_VideoCombine": NodeClass(combine_video, accepts_extra_inputs=True),
    "CreateVideo": NodeClass(create_video),
    "SaveVideo": NodeClass(save_video),
    "SaveWEBM": NodeClass(save_webm),
    "SaveAnimatedWEBP": NodeClass(save_webp),
}
