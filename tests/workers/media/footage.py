"""Test footage made the way ComfyUI's video nodes make it, with a per-frame marker.

Frames come from a lavfi source with a white bar that jumps along each frame (so
neighbouring frames differ even where the source barely moves), and are piped as raw RGB
into the command VHS_VideoCombine builds from its own format definition (libx264 with its
defaults, B-frames on, crf 19, for `h264-mp4`): the emulator's copy of the pack's formats.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from comfy_emulator.vhs_formats import encode_command, load_format, resolve
from workers.media.tool import find_ffmpeg, run_ffmpeg

MARKER_STEP = 7  # pixels the bar moves per frame
MARKER_WIDTH = 6


def source_frames(
    template: str, size: tuple[int, int], rate: float, seconds: float, vf: str | None = None
) -> np.ndarray:
    """(n, H, W, 3) RGB frames of a lavfi source ("{size}", "{rate}" filled in), marked."""
    width, height = size
    graph = (
        template.format(size=f"{width}x{height}", rate=rate)
        + f",format=rgb24[m];color=c=white:s={MARKER_WIDTH}x{height}[b];"
        f"[m][b]overlay=x='mod(n*{MARKER_STEP},W-w)':y=0:shortest=1"
    )
    args: list[str | Path] = ["-f", "lavfi", "-i", graph, "-t", f"{seconds}"]
    if vf:
        args += ["-vf", vf]
    raw = run_ffmpeg([*args, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def encode_vhs(
    frames: np.ndarray, out: Path, rate: float, format_name: str = "h264-mp4", **widgets
) -> Path:
    """Encode `frames` as VHS_VideoCombine does for `video/<format_name>` (no metadata)."""
    fmt = resolve(load_format(format_name), {"has_alpha": False, **widgets})
    height, width = frames.shape[1:3]
    deep = fmt.get("input_color_depth") == "16bit"
    command = encode_command(
        find_ffmpeg(), fmt, width=width, height=height, frame_rate=float(rate),
        input_pix_fmt="rgb48" if deep else "rgb24", loop_args=[],
    )  # fmt: skip
    command = [c for c in command if c != "-n"] + ["-y", str(out)]
    data = (frames.astype(np.uint16) * 257).tobytes() if deep else frames.tobytes()
    subprocess.run(command, input=data, capture_output=True, check=True)
    return out


def make_source(
    out: Path,
    template: str,
    *,
    size: tuple[int, int] = (320, 180),
    rate: float = 30,
    seconds: float = 1.5,
    vf: str | None = None,
    **widgets,
) -> Path:
    """A marked lavfi source encoded as the real node encodes it (h264-mp4 by default)."""
    return encode_vhs(source_frames(template, size, rate, seconds, vf), out, rate, **widgets)


def encode_x264(frames: np.ndarray, out: Path, rate: float, *args: str) -> Path:
    """Frames encoded with libx264's defaults plus `args` (rate control, GOPs, timebase)."""
    height, width = frames.shape[1:3]
    run_ffmpeg(
        ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{rate}",
         "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", *args, out],
        stdin=frames.tobytes(),
    )  # fmt: skip
    return out


def retime(video: Path, out: Path, timescale: int) -> Path:
    """`video`'s stream copied into an MP4 track with another timescale (ticks rounded)."""
    run_ffmpeg(["-i", video, "-map", "0:v", "-c", "copy", "-video_track_timescale",
                str(timescale), out])  # fmt: skip
    return out


def add_audio(video: Path, out: Path) -> Path:
    """`video` with a sine AAC track muxed in, its video copied (VHS's audio pass)."""
    run_ffmpeg(["-i", video, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest",
                out])  # fmt: skip
    return out


def decode_frames(path: str | Path, size: tuple[int, int], vf: str | None = None) -> np.ndarray:
    """Every video frame of `path` (through `vf`) as an (n, H, W, 3) uint8 array."""
    width, height = size
    args: list[str | Path] = ["-i", path, "-map", "0:v:0"]
    if vf:
        args += ["-vf", vf]
    raw = run_ffmpeg([*args, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
