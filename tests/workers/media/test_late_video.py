"""A scene clip whose picture starts after its sound (video stream at 0.5 s, audio at 0, as
cameras and editors write them): compile shows it from its first frame, and QC compares the
episode with those frames, not with the first frame repeated back to time 0."""

from __future__ import annotations

from pathlib import Path

from workers.media.compiler import ClipSpec, compile_episode
from workers.media.qc import plan_qc, run_qc
from workers.media.tool import run_ffmpeg


def test_a_clip_whose_video_starts_late_passes_qc(tmp_path: Path) -> None:
    first, late = tmp_path / "first.mp4", tmp_path / "late.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=16", "-frames:v", "16",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", first])  # fmt: skip
    run_ffmpeg(["-itsoffset", "0.5", "-f", "lavfi", "-i", "mandelbrot=size=64x64:rate=16",
                "-f", "lavfi", "-i", "sine=r=48000", "-t", "1.5", "-map", "0:v", "-map", "1:a",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", late])  # fmt: skip
    result = compile_episode(
        [ClipSpec(first), ClipSpec(late)], tmp_path / "ep.mp4", fps=16, width=64, height=64
    )
    assert [p.frames for p in result.placements] == [16, 16]
    report = run_qc(result.path, plan_qc(result, expect_audio=False))
    assert report.passed, [c.message for c in report.failures]
