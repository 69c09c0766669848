"""Splicing a timeline: which frames are stream-copied, which re-encoded, and the concat.

Copied ranges must start on a keyframe (they end anywhere: there are no B-frames); every
transition window, and any clip whose codec parameters differ, is re-encoded. ffmpeg's
concat demuxer then joins copied ranges and rendered windows without decoding them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from workers.media.container import VideoTrack
from workers.media.encoding import Encoding
from workers.media.tool import run_ffmpeg
from workers.media.window import Part, Window


@dataclass
class Clip:
    """A clip on the timeline: its track, transition overlaps (frames) and copyability."""

    path: Path
    track: VideoTrack
    head: int = 0
    tail: int = 0
    join: str = "cut"
    copyable: bool = True


def plan_segments(clips: list[Clip]) -> list[Part | Window]:
    """Split the timeline into stream-copied ranges (Part) and windows to re-encode."""
    segments: list[Part | Window] = []
    pending: list[Part] = []

    def add_render(part: Part) -> None:
        if part.frames > 0:
            pending.append(part)

    def flush() -> None:
        if pending:
            segments.append(Window(tuple(pending)))
            pending.clear()

    previous_join, previous_frames = "cut", 0
    for clip in clips:
        n = clip.track.frame_count
        copy_end = n - clip.tail
        copy_start = next((k for k in clip.track.keyframes if k >= clip.head), n)
        if not clip.copyable or copy_start >= copy_end:
            copy_start = copy_end = n
        add_render(Part(clip.path, 0, copy_start, previous_join, previous_frames))
        if copy_end > copy_start:
            flush()
            segments.append(Part(clip.path, copy_start, copy_end))
        add_render(Part(clip.path, max(copy_start, copy_end), n))
        previous_join, previous_frames = clip.join, clip.tail
    flush()
    return segments


def concat_segments(
    segments: list[Part],
    totals: dict[Path, int],
    enc: Encoding,
    work: Path,
    out: Path,
) -> None:
    """Join `segments` (frame ranges of clips and rendered windows) into `out` by stream copy.

    :raises FfmpegError: when ffmpeg fails.
    """
    lines = ["ffconcat version 1.0"]
    for seg in segments:
        lines.append(f"file '{_quote(seg.path)}'")
        if seg.start > 0:
            # In points round up and out points down to the microsecond the demuxer parses,
            # so the seek lands on the keyframe and the out frame is excluded.
            lines.append(f"inpoint {math.ceil(seg.start * 1_000_000 / enc.fps)}us")
        if seg.end < totals[seg.path]:
            lines.append(f"outpoint {math.floor(seg.end * 1_000_000 / enc.fps)}us")
    listing = work / "concat.txt"
    listing.write_text("\n".join(lines) + "\n")
    # The demuxer offsets each file by microsecond-rounded durations; restamping by packet
    # number keeps the output frame-exact constant frame rate (no B-frames, so pts == dts).
    run_ffmpeg(
        ["-f", "concat", "-safe", "0", "-i", listing, "-map", "0:v:0", "-c", "copy",
         "-bsf:v", f"setts=ts=N*{enc.frame_ticks}",
         "-video_track_timescale", str(enc.timescale), out]
    )  # fmt: skip


def _quote(path: Path | str) -> str:
    return os.fspath(path).replace("'", "'\\''")
