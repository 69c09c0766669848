"""Normalising a scene clip to the episode's format, as soon as the scene finishes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from workers.media.encoding import Encoding, make_encoding
from workers.media.probe import container_fact
from workers.media.staging import stage_output
from workers.media.tool import run_ffmpeg

log = logging.getLogger(__name__)


def normalise_clip(
    src: str | Path,
    dest: str | Path,
    *,
    fps: float | Fraction,
    width: int,
    height: int,
    pix_fmt: str = "yuv420p",
    gop_frames: int | None = None,
    keyframes_s: Sequence[float] = (),
    head_s: float = 0.0,
    tail_s: float = 0.0,
    crf: int = 18,
    preset: str = "veryfast",
) -> Path:
    """Re-encode `src` to H.264 at the episode's fps/size/pix_fmt/time base; return `dest`.

    Keyframes fall every `gop_frames` (default: one second), on the frames at
    `keyframes_s`, where the incoming transition ends (`head_s`) and where the outgoing one
    starts (`tail_s` before the end): the compiler then stream-copies from exactly where a
    transition window ends and decodes nothing before one starts.

    :raises ValidationError: on a bad format.
    :raises FfmpegError: when ffmpeg cannot read or encode the clip.
    """
    encoding = make_encoding(
        fps=fps, width=width, height=height, pix_fmt=pix_fmt,
        gop_frames=gop_frames, crf=crf, preset=preset,
    )  # fmt: skip
    marks = [*keyframes_s, head_s]
    if tail_s > 0:
        marks.append(container_fact(src, "duration_s") - tail_s)
    with stage_output(dest) as (_work, out):
        encode_clip(src, out, encoding, keyframes_s=marks)
    log.info("normalised clip src=%s dest=%s fps=%s size=%dx%d", src, dest, fps, width, height)
    return Path(dest)


def encode_clip(
    src: str | Path, out: str | Path, encoding: Encoding, *, keyframes_s: Sequence[float] = ()
) -> None:
    """Encode `src` into `out` with `encoding` (no staging; the caller owns `out`).

    :raises FfmpegError: when ffmpeg fails.
    """
    forced = tuple(sorted({round(t * encoding.fps) for t in keyframes_s if t > 0}))
    run_ffmpeg(
        ["-i", src, "-map", "0:v:0", "-vf", encoding.filter_chain(),
         *encoding.encoder_args(forced), out]
    )  # fmt: skip
