"""normalise_clip and probe_media on real files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shared.errors import ValidationError
from tests.workers.media.conftest import CLIP_FRAMES, FPS, H, W
from workers.media.container import read_video_track
from workers.media.normalise import normalise_clip
from workers.media.probe import probe_media


def test_normalised_clip_has_episode_format_and_keyframes(clips: dict[str, Path]) -> None:
    facts = probe_media(clips["a"])
    assert (facts.width, facts.height, facts.fps) == (W, H, FPS)
    assert (facts.codec, facts.pix_fmt) == ("h264", "yuv420p")
    assert facts.frame_count == CLIP_FRAMES
    assert facts.duration_s == pytest.approx(1.5, abs=0.01)
    assert not facts.has_audio
    assert facts.sha256 == hashlib.sha256(clips["a"].read_bytes()).hexdigest()
    track = read_video_track(clips["a"])
    # GOP of one second plus the forced keyframe where the transition window ends.
    assert {0, 12, 24} <= set(track.keyframes)
    assert track.frame_ticks is not None and track.fps_matches(FPS)


def test_normalise_rejects_bad_format(raw_clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        normalise_clip(raw_clips["a"], tmp_path / "x.mp4", fps=24, width=161, height=90)
    assert "width" in info.value.fields
    assert not (tmp_path / "x.mp4").exists()


def test_probe_reports_source_facts(raw_clips: dict[str, Path]) -> None:
    facts = probe_media(raw_clips["b"])
    assert (facts.width, facts.height, facts.fps, facts.frame_count) == (320, 180, 30, 45)


def test_keyframes_where_transitions_start_and_end(raw_clips: dict[str, Path], tmp_path) -> None:
    out = normalise_clip(
        raw_clips["c"], tmp_path / "k.mp4", fps=FPS, width=W, height=H,
        gop_frames=100, head_s=0.25, tail_s=0.5, keyframes_s=[1.0],
    )  # fmt: skip
    # head 0.25 s -> frame 6; tail 0.5 s before the 36-frame end -> 24; 1.0 s -> 24.
    assert set(read_video_track(out).keyframes) >= {0, 6, 24}
