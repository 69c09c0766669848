"""Quality control of a compiled episode before it is published.

One decoding pass over the episode runs ffmpeg's blackdetect and freezedetect and emits a
16x16 RGB thumbnail of every frame; the scene checks compare those thumbnails with the
source clips' (brought to the episode's rate and geometry as compile brings them): each
scene where it should be, and each of its frames in its own place.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from workers.media.compiler import CompileResult
from workers.media.encoding import make_encoding
from workers.media.matching import check_scenes
from workers.media.probe import MediaFacts, probe_media
from workers.media.report import QcCheck, QcFailed, QcPlan, QcReport, QcScene
from workers.media.stretch import check_stretches, keyframe_times
from workers.media.tool import run_ffmpeg

log = logging.getLogger(__name__)

THUMB = 16
# Freezes are detected in pieces at least this long, then joined across keyframes.
FREEZE_PIECE_S = 0.25
_THUMB_BYTES = THUMB * THUMB * 3


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
    checks += check_stretches(stderr, plan, keyframe_times(Path(path)))
    # Generated bridges are clips of their own: present, in order, where they were placed.
    scenes = [s for s in plan.scenes if s.kind in ("scene", "bridge")]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        sources = list(pool.map(lambda s: _source_thumbs(s.source, plan), scenes))
    checks += check_scenes(thumbs, scenes, sources, plan)
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


def _source_thumbs(source: str, plan: QcPlan) -> np.ndarray:
    chain = make_encoding(fps=plan.fps, width=plan.width, height=plan.height).filter_chain()
    chain += f",scale={THUMB}:{THUMB}:flags=area,format=rgb24"
    # The frames as the chain gives them: the rawvideo muxer would otherwise repeat the
    # first frame back to time 0 of a video that starts late (after its audio), frames the
    # compiled scene does not have (compile shows a clip from its first frame).
    raw = run_ffmpeg(["-i", source, "-map", "0:v:0", "-vf", chain, "-fps_mode", "passthrough",
                      "-f", "rawvideo", "-"])  # fmt: skip
    return _as_thumbs(raw.stdout)


__all__ = ["QcCheck", "QcFailed", "QcPlan", "QcReport", "QcScene", "plan_qc", "run_qc"]
