"""Black and frozen stretches: reading ffmpeg's blackdetect and freezedetect logs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from workers.media.container import ContainerError, read_video_track
from workers.media.report import QcCheck, QcPlan

_BLACK = re.compile(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)")
_FREEZE = re.compile(r"freezedetect\.freeze_(start|end): ([\d.]+)")


def keyframe_times(path: Path) -> list[float]:
    """Times of an MP4's keyframes (empty when it cannot be read as one)."""
    try:
        track = read_video_track(path)
    except ContainerError:
        return []
    if not track.frame_ticks:
        return []
    return [k * track.frame_ticks / track.timescale for k in track.keyframes]


def _join_at_keyframes(
    spans: list[tuple[float, float]], keyframes: Sequence[float], frame_s: float
) -> list[tuple[float, float]]:
    """Join freeze pieces that meet at a keyframe.

    An encoder refreshes a frozen picture at every keyframe with slightly different coding
    noise, which freezedetect sees as motion; a real change rarely falls exactly there.
    """
    joined: list[tuple[float, float]] = []
    marks = np.asarray(keyframes)
    for start, end in spans:
        if joined and start - joined[-1][1] <= frame_s / 2:
            near = len(marks) and np.min(np.abs(marks - start)) <= frame_s / 2
            if near:
                joined[-1] = (joined[-1][0], end)
                continue
        joined.append((start, end))
    return joined


def check_stretches(stderr: str, plan: QcPlan, keyframes: Sequence[float]) -> list[QcCheck]:
    """Black and frozen stretches over the plan's limits, from blackdetect/freezedetect logs."""
    checks = []
    for start, end in ((float(a), float(b)) for a, b in _BLACK.findall(stderr)):
        if end - start > plan.max_black_s:
            checks.append(_stretch_failure("black", start, end, plan))
    cards = [(s.start_s, s.end_s) for s in plan.scenes if s.kind == "card"]
    spans = _join_at_keyframes(_freezes(stderr, plan.duration_s), keyframes, 1 / plan.fps)
    for start, end in spans:
        for piece in _subtract(start, end, cards):
            if piece[1] - piece[0] > plan.max_freeze_s:
                checks.append(_stretch_failure("frozen", *piece, plan))
    if not checks:
        checks.append(QcCheck("stretches", True, "no black or frozen stretch over threshold"))
    return checks


def _freezes(stderr: str, duration_s: float) -> list[tuple[float, float]]:
    spans, start = [], None
    for kind, value in _FREEZE.findall(stderr):
        if kind == "start":
            start = float(value)
        elif start is not None:
            spans.append((start, float(value)))
            start = None
    if start is not None:  # frozen through the last frame: no end is logged
        spans.append((start, duration_s))
    return spans


def _subtract(start: float, end: float, holes: Sequence[tuple[float, float]]):
    pieces = [(start, end)]
    for h0, h1 in holes:
        pieces = [p for a, b in pieces for p in ((a, min(b, h0)), (max(a, h1), b)) if p[1] > p[0]]
    return pieces


def _stretch_failure(what: str, start: float, end: float, plan: QcPlan) -> QcCheck:
    scene = _scene_at(start + 1e-6, plan)
    limit = plan.max_black_s if what == "black" else plan.max_freeze_s
    return QcCheck(
        what,
        False,
        f"{what} stretch of {end - start:.2f} s at {start:.2f}-{end:.2f} s "
        f"(scene {scene}; limit {limit:.2f} s)",
        scene_index=scene,
        at_s=round(start, 3),
    )


def _scene_at(t: float, plan: QcPlan) -> int | None:
    hits = [s.index for s in plan.scenes if s.kind == "scene" and s.start_s <= t < s.end_s]
    return hits[-1] if hits else None
