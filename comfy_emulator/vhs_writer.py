"""VHS_VideoCombine's `video/*` output: frames piped to ffmpeg as the pack pipes them.

The pack tries once with an FFMETADATA input (when the format saves metadata) and, when that
fails or ffmpeg says anything, once more without. A broken pipe on the last try raises
"An error occurred in the ffmpeg subprocess" with ffmpeg's stderr; an ffmpeg that fails
without breaking the pipe (all frames fit in its buffer) leaves no file and no error, and
the node reports its output all the same. The emulator keeps both behaviours.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from comfy_emulator.errors import EmulatedError
from comfy_emulator.media import ffmpeg_exe
from comfy_emulator.vhs_formats import (
    encode_command,
    load_format,
    metadata_text,
    resolve,
    with_metadata,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where the node writes: its folder, the base name and counter, and the temp folder."""

    folder: str
    filename: str
    counter: int
    temp_dir: str


def write_format_video(
    frames: np.ndarray,
    format_name: str,
    inputs: dict[str, Any],
    target: Target,
    video_metadata: dict[str, Any],
    progress: Callable[[int, int], None],
) -> str:
    """Encode `frames` (N, H, W, 3 uint8) in VHS format `video/<format_name>`; return the
    file name (a `%03d` pattern for image sequences).

    :raises EmulatedError: "An error occurred in the ffmpeg subprocess" when ffmpeg breaks
        the pipe, as the pack raises it.
    """
    fmt = resolve(load_format(format_name), {**inputs, "has_alpha": False})
    frames = _pad(frames, int(fmt.get("dim_alignment", 2)))
    height, width = frames.shape[1:3]
    if inputs.get("pingpong"):
        frames = np.concatenate([frames, frames[-2:0:-1]])
    loop_count = int(inputs.get("loop_count", 0))
    loop_args = ["-vf", f"loop=loop={loop_count}:size={len(frames)}"] if loop_count > 0 else []
    deep = fmt.get("input_color_depth", "8bit") == "16bit"
    name = f"{target.filename}_{target.counter:05}.{fmt['extension']}"
    path = os.path.join(target.folder, name)
    command = encode_command(
        ffmpeg_exe(), fmt, width=width, height=height, frame_rate=float(inputs["frame_rate"]),
        input_pix_fmt="rgb48" if deep else "rgb24", loop_args=loop_args,
    )  # fmt: skip
    metadata_command = None
    if fmt.get("save_metadata", "False") != "False":
        os.makedirs(target.temp_dir, exist_ok=True)
        metadata_path = os.path.join(target.temp_dir, "metadata.txt")
        with open(metadata_path, "w", encoding="utf-8") as handle:
            handle.write(metadata_text(video_metadata))
        metadata_command = with_metadata(command, metadata_path) + [path]
    env = {**os.environ, **fmt.get("environment", {})}
    raw = _frame_bytes(frames, deep, progress)
    _run_passes(metadata_command, command + [path], raw, path, env)
    return name


def _pad(frames: np.ndarray, alignment: int) -> np.ndarray:
    """Edge-replicate to a multiple of `alignment`, split left/right and top/bottom."""
    height, width = frames.shape[1:3]
    pad_w, pad_h = -width % alignment, -height % alignment
    if not pad_w and not pad_h:
        return frames
    log.warning("Output images were not of valid resolution and have had padding applied")
    spec = ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    return np.pad(frames, spec, mode="edge")


def _frame_bytes(
    frames: np.ndarray, deep: bool, progress: Callable[[int, int], None]
) -> Iterator[bytes]:
    for index, frame in enumerate(frames):
        progress(index + 1, len(frames))
        yield (frame.astype(np.uint16) * 257).tobytes() if deep else frame.tobytes()


def _run_passes(
    metadata_command: list[str] | None,
    command: list[str],
    frames: Iterator[bytes],
    path: str,
    env: dict[str, str],
) -> None:
    pending = next(frames, None)
    stderr: bytes | None = None
    if metadata_command is not None:
        with subprocess.Popen(
            metadata_command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        ) as proc:
            try:
                while pending is not None:
                    proc.stdin.write(pending)
                    pending = next(frames, None)
                proc.stdin.flush()
                proc.stdin.close()
                stderr = proc.stderr.read()
            except BrokenPipeError:
                error = proc.stderr.read()
                # A file there means the plain try would fail on it too: report this error.
                if os.path.exists(path):
                    raise _ffmpeg_error(error) from None
                log.warning("An error occurred when saving with metadata")
    if stderr == b"":
        return
    with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        try:
            while pending is not None:
                proc.stdin.write(pending)
                pending = next(frames, None)
            proc.stdin.flush()
            proc.stdin.close()
            stderr = proc.stderr.read()
        except BrokenPipeError:
            raise _ffmpeg_error(proc.stderr.read()) from None
    if stderr:
        log.warning("ffmpeg: %s", stderr.decode("utf-8", "backslashreplace").strip())


def _ffmpeg_error(stderr: bytes) -> EmulatedError:
    return EmulatedError(
        "An error occurred in the ffmpeg subprocess:\n"
        + stderr.decode("utf-8", "backslashreplace"),
        "Exception",
    )
