"""Quality control of a compiled episode before it is published.

One decoding pass over the episode runs ffmpeg's blackdetect and freezedetect and emits a
16x16 RGB thumbnail of every frame; the scene checks compare those thumbnails with the
source clips' at the times each scene should be showing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import PermanentError
from workers.media.compiler import CompileResult
from workers.media.container import ContainerError, read_video_track
from workers.media.probe import MediaFacts, probe_media
from workers.media.tool import run_ffmpeg

log = logging.getLogger(__name__)

THUMB = 16
# Freezes are detected in pieces at least this long, then joined across keyframes (below).
FREEZE_PIECE_S = 0.25
_THUMB_BYTES = THUMB * THUMB * 3


@dataclass(frozen=True)
class QcScene:
    """Where a scene (or card) should show in the episode, and the clip it came from."""

    index: int
    source: str
    start_s: float
    end_s: float
    head_s: float = 0.0
    tail_s: float = 0.0
    kind: str = "scene"


@dataclass(frozen=True)
class QcPlan:
    """What the episode must be, and the thresholds it is held to."""

    duration_s: float
    fps: float
    width: int
    height: int
    scenes: tuple[QcScene, ...]
    duration_tolerance_s: float = 0.1
    max_black_s: float = 0.5
    max_freeze_s: float = 2.0
    freeze_noise_db: float = -60.0
    expect_audio: bool = True
    signatures_per_scene: int = 3
    match_threshold: float = 12.0


@dataclass(frozen=True)
class QcCheck:
    """One check's verdict; failures say what is wrong and where (scene index, time)."""

    name: str
    passed: bool
    message: str
    scene_index: int | None = None
    at_s: float | None = None


@dataclass(frozen=True)
class QcReport:
    """All checks of one episode file; JSON-able with to_dict()."""

    path: str
    passed: bool
    checks: tuple[QcCheck, ...]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[QcCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form to store with the episode."""
        return asdict(self)

    def raise_if_failed(self) -> QcReport:
        """Return self when every check passed.

        :raises QcFailed: carrying this report otherwise.
        """
        if not self.passed:
            raise QcFailed(self)
        return self


class QcFailed(PermanentError):
    """An episode failed quality control; `report` says what and where."""

    code = "qc_failed"

    def __init__(self, report: QcReport) -> None:
        summary = "; ".join(c.message for c in report.failures[:5])
        super().__init__(f"episode failed QC: {summary}", fields={"report": report.path})
        self.report = report


def plan_qc(result: CompileResult, *, expect_audio: bool = True, **thresholds: Any) -> QcPlan:
    """The QC plan for what compile_episode made: its duration, format and placements."""
    scenes = tuple(
        QcScene(p.index, p.source, p.start_s, p.end_s, p.head_s, p.tail_s, p.kind)
        for p in result.placements
    )
    return QcPlan(
        duration_s=result.duration_s, fps=result.fps, width=result.width, height=result.height,
        scenes=scenes, expect_audio=expect_audio, **thresholds,
    )  # fmt: skip


def run_qc(path: str | Path, plan: QcPlan, *, workers: int = 2) -> QcReport:
    """Check the episode at `path` against `plan` and return the report (never raises on a
    failed check; call report.raise_if_failed()).

    :raises FfmpegError: when the file cannot be decoded at all.
    """
    facts = probe_media(path)
    checks = _format_checks(facts, plan)
    thumbs, stderr = _scan_episode(Path(path), plan)
    checks += _stretch_checks(stderr, plan, _keyframe_times(Path(path)))
    checks += _scene_checks(thumbs, plan, workers)
    report = QcReport(str(path), all(c.passed for c in checks), tuple(checks), facts.to_dict())
    log.info("qc path=%s passed=%s failures=%d", path, report.passed, len(report.failures))
    return report


def _format_checks(facts: MediaFacts, plan: QcPlan) -> list[QcCheck]:
    video_s = facts.frame_count / facts.fps if facts.fps else 0.0
    off = video_s - plan.duration_s
    checks = [
        QcCheck(
            "duration",
            abs(off) <= plan.duration_tolerance_s,
            f"video lasts {video_s:.3f} s, planned {plan.duration_s:.3f} s "
            f"(tolerance {plan.duration_tolerance_s:.3f} s)",
            at_s=min(video_s, plan.duration_s),
        ),
        QcCheck(
            "resolution",
            (facts.width, facts.height) == (plan.width, plan.height),
            f"{facts.width}x{facts.height}, requested {plan.width}x{plan.height}",
        ),
        QcCheck(
            "fps",
            abs(facts.fps - plan.fps) < 0.01,
            f"{facts.fps:g} fps, requested {plan.fps:g}",
        ),
    ]
    if plan.expect_audio:
        checks.append(
            QcCheck("audio", facts.has_audio, f"audio stream: {facts.audio_codec or 'missing'}")
        )
    return checks


def _scan_episode(path: Path, plan: QcPlan) -> tuple[np.ndarray, str]:
    chain = (
        f"blackdetect=d={plan.max_black_s}:pix_th=0.10,"
        f"freezedetect=n={plan.freeze_noise_db}dB:d={min(FREEZE_PIECE_S, plan.max_freeze_s)},"
        f"scale={THUMB}:{THUMB}:flags=area,format=rgb24"
    )
    proc = run_ffmpeg(["-i", path, "-map", "0:v:0", "-vf", chain, "-f", "rawvideo", "-"])
    return _as_thumbs(proc.stdout), proc.stderr.decode("utf-8", "replace")


def _as_thumbs(raw: bytes) -> np.ndarray:
    frames = len(raw) // _THUMB_BYTES
    return np.frombuffer(raw[: frames * _THUMB_BYTES], np.uint8).reshape(frames, _THUMB_BYTES)


_BLACK = re.compile(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)")
_FREEZE = re.compile(r"freezedetect\.freeze_(start|end): ([\d.]+)")


def _keyframe_times(path: Path) -> list[float]:
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


def _stretch_checks(stderr: str, plan: QcPlan, keyframes: Sequence[float]) -> list[QcCheck]:
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


def _source_thumbs(source: str, fps: float) -> np.ndarray:
    chain = f"fps={fps},scale={THUMB}:{THUMB}:flags=area,format=rgb24"
    return _as_thumbs(run_ffmpeg(["-i", source, "-vf", chain, "-f", "rawvideo", "-"]).stdout)


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=-1)


def _scene_checks(thumbs: np.ndarray, plan: QcPlan, workers: int) -> list[QcCheck]:
    scenes = [s for s in plan.scenes if s.kind == "scene"]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        sources = list(pool.map(lambda s: _source_thumbs(s.source, plan.fps), scenes))
    checks, previous = [], -1.0
    for scene, src in zip(scenes, sources, strict=True):
        check, found_at = _check_scene(scene, src, thumbs, plan)
        checks.append(check)
        if found_at is not None and found_at < previous:
            checks.append(
                QcCheck("order", False, f"scene {scene.index} shows at {found_at:.2f} s, "
                        f"before the scene planned ahead of it", scene.index, found_at)
            )  # fmt: skip
        previous = max(previous, found_at if found_at is not None else previous)
    return checks


def _check_scene(
    scene: QcScene, src: np.ndarray, thumbs: np.ndarray, plan: QcPlan
) -> tuple[QcCheck, float | None]:
    first = round(scene.start_s * plan.fps)
    lo = round((scene.start_s + scene.head_s) * plan.fps)
    hi = max(lo + 1, round((scene.end_s - scene.tail_s) * plan.fps))
    k = plan.signatures_per_scene
    picks = sorted({lo + (hi - lo) * (i + 1) // (k + 1) for i in range(k)})
    picks = [e for e in picks if 0 <= e - first < len(src)]
    dists = [
        float(_distance(thumbs[e], src[e - first])) if e < len(thumbs) else 255.0 for e in picks
    ]
    where = picks[len(picks) // 2] / plan.fps if picks else scene.start_s
    if dists and float(np.median(dists)) <= plan.match_threshold:
        return QcCheck(
            "scene", True, f"scene {scene.index} present at {where:.2f} s", scene.index, where
        ), where
    found = _best_match(src[picks[len(picks) // 2] - first] if picks else None, thumbs, plan)
    elsewhere = f"best match at {found:.2f} s" if found is not None else "not found anywhere"
    got = f"difference {np.median(dists):.1f}" if dists else "source clip unreadable"
    return QcCheck(
        "scene",
        False,
        f"scene {scene.index} missing at {where:.2f} s ({got}); {elsewhere}",
        scene.index,
        round(where, 3),
    ), found


def _best_match(signature: np.ndarray | None, thumbs: np.ndarray, plan: QcPlan) -> float | None:
    if signature is None or not len(thumbs):
        return None
    dist = _distance(thumbs, signature)
    best = int(np.argmin(dist))
    return best / plan.fps if dist[best] <= plan.match_threshold else None
