"""Cheap deterministic pictures and real media files (PNG, GIF, WEBP, MP4, WEBM)."""

from __future__ import annotations

import colorsys
import io
import json
import os
import re
import subprocess
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, PngImagePlugin

from comfy_emulator.errors import EmulatedError


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def seed_color(seed: int) -> tuple[int, int, int]:
    """A stable saturated colour for a seed."""
    hue = (seed * 0.6180339887) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.55, 0.75)
    return int(r * 255), int(g * 255), int(b * 255)


def render_frame(
    width: int,
    height: int,
    lines: list[str],
    index: int,
    count: int,
    seed: int,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """One HxWx3 uint8 frame: background, a bar that moves with the frame index, and text."""
    if base is not None and base.shape[:2] == (height, width):
        canvas = Image.fromarray(base)
    else:
        canvas = Image.new("RGB", (width, height), seed_color(seed))
    draw = ImageDraw.Draw(canvas)
    bar = max(4, width // 16)
    x = int((width - bar) * (index / max(1, count - 1))) if count > 1 else 0
    draw.rectangle([x, 0, x + bar - 1, height - 1], fill=(255, 255, 255))
    _draw_index(draw, width, height, index)
    y = 4
    for line in lines + [f"frame {index + 1}/{count}"]:
        draw.text((6, y), line, fill=(0, 0, 0))
        draw.text((5, y - 1), line, fill=(255, 255, 255))
        y += 12
        if y > height - 10:
            break
    return np.asarray(canvas, dtype=np.uint8)


def _draw_index(draw: ImageDraw.ImageDraw, width: int, height: int, index: int) -> None:
    """The frame's index as 16 black or white cells along the bottom edge, so every frame of a
    long batch differs even where the moving bar and the text cannot show it."""
    cell = max(1, width // 16)
    top = height - max(2, height // 16)
    for bit in range(16):
        fill = (255, 255, 255) if index >> bit & 1 else (0, 0, 0)
        draw.rectangle([bit * cell, top, (bit + 1) * cell - 1, height - 1], fill=fill)


def png_bytes(frame: np.ndarray, text: dict[str, str] | None = None, level: int = 1) -> bytes:
    """Encode one frame as PNG, with optional tEXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "PNG", pnginfo=info, compress_level=level)
    return buffer.getvalue()


def write_png(path: str, frame: np.ndarray, text: dict[str, str] | None = None) -> None:
    """Write a PNG file (compress level 4, like SaveImage)."""
    with open(path, "wb") as handle:
        handle.write(png_bytes(frame, text, level=4))


def png_metadata(prompt: object, extra_pnginfo: object) -> dict[str, str]:
    """The tEXt chunks the real savers embed: prompt and the extra_pnginfo keys."""
    text = {"prompt": json.dumps(prompt)}
    if isinstance(extra_pnginfo, dict):
        for key, value in extra_pnginfo.items():
            text[str(key)] = json.dumps(value)
    return text


def write_animation(path: str, frames: np.ndarray, fps: float, kind: str, **options) -> None:
    """Animated GIF or WEBP through Pillow."""
    images = [Image.fromarray(f) for f in frames]
    duration = int(round(1000.0 / max(fps, 0.01)))
    if kind == "gif":
        images[0].save(
            path,
            "GIF",
            save_all=True,
            append_images=images[1:],
            duration=duration,
            loop=options.get("loop", 0),
        )
    else:
        images[0].save(
            path,
            "WEBP",
            save_all=True,
            append_images=images[1:],
            duration=duration,
            loop=options.get("loop", 0),
            lossless=bool(options.get("lossless", False)),
            quality=int(options.get("quality", 80)),
            method=int(options.get("method", 4)),
        )


def write_video(
    path: str,
    frames: np.ndarray,
    fps: float,
    codec: str = "h264",
    crf: int = 23,
    pix_fmt: str = "yuv420p",
) -> None:
    """Encode frames with ffmpeg from a raw RGB pipe (libx264 or libvpx-vp9).

    :raises EmulatedError: when ffmpeg fails.
    """
    count, height, width = frames.shape[:3]
    # yuv420p needs even sizes; pad by one pixel rather than fail.
    pad = "pad=ceil(iw/2)*2:ceil(ih/2)*2"
    if codec == "vp9":
        codec_args = [
            "-c:v",
            "libvpx-vp9",
            "-crf",
            str(int(crf)),
            "-b:v",
            "0",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
        ]
    else:
        # libx264's defaults (B-frames on), as ComfyUI's PyAV writer leaves them.
        codec_args = ["-c:v", "libx264", "-crf", str(int(crf)), "-movflags", "+faststart"]
    cmd = [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        f"{fps}",
        "-i",
        "-",
        "-vf",
        pad,
        *codec_args,
        "-pix_fmt",
        pix_fmt,
        path,
    ]
    proc = subprocess.run(
        cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise EmulatedError(proc.stderr.decode("utf-8", "replace")[-500:], "Exception")


_SIZE = re.compile(r"Video: .*?(\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")


def probe_video(path: str) -> tuple[int, int, float]:
    """(width, height, fps) parsed from `ffmpeg -i` output.

    :raises EmulatedError: when the file has no video stream.
    """
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True, check=False
    )
    text = proc.stderr.decode("utf-8", "replace")
    size = _SIZE.search(text)
    if size is None:
        raise EmulatedError(f"No video stream found in {os.path.basename(path)}", "Exception")
    fps = _FPS.search(text)
    return int(size.group(1)), int(size.group(2)), float(fps.group(1)) if fps else 8.0


def read_video(path: str) -> tuple[np.ndarray, float]:
    """Decode every frame of a video as (N, H, W, 3) uint8, plus its fps.

    :raises EmulatedError: when decoding fails.
    """
    width, height, fps = probe_video(path)
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise EmulatedError(proc.stderr.decode("utf-8", "replace")[-500:], "Exception")
    frame_size = width * height * 3
    count = len(proc.stdout) // frame_size
    data = np.frombuffer(proc.stdout[: count * frame_size], dtype=np.uint8)
    return data.reshape(count, height, width, 3), fps


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize every frame (bilinear) to width x height."""
    if frames.shape[1:3] == (height, width):
        return frames
    out = [np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in frames]
    return np.stack(out)
