"""Splicing a timeline: which frames are stream-copied and which re-encoded.

A copied range starts on an IDR frame and ends where the frames decoded so far are exactly
the frames shown so far: with B-frames a range may not end just anywhere, since frames
shown before a cut can be decoded after it. Every transition window, the frames between it and the
nearest cut point, and any clip whose codec parameters differ are re-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workers.media.container import VideoTrack
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
        copy_start = next((k for k in clip.track.cut_points if k >= clip.head), n)
        copy_end = max((k for k in clip.track.end_points if k <= n - clip.tail), default=0)
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
