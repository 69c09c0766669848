"""compile_episode on real clips: duration, frames, transition placement, retakes, cards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import ValidationError
from tests.workers.media.conftest import (
    CLIP_FRAMES,
    FPS,
    SOURCES,
    XF,
    H,
    W,
    decode_frames,
    make_episode_clip,
    make_source,
)
from tests.workers.media.footage import encode_x264, source_frames
from workers.media.card import Card
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.probe import probe_media
from workers.media.qc import plan_qc, run_qc

X = round(XF * FPS)  # 12 frames per transition


def compile_three(clips: dict[str, Path], dest: Path, middle: str = "b"):
    """a -crossfade-> middle -fade_black-> c."""
    specs = [
        ClipSpec(clips["a"], "crossfade", XF),
        ClipSpec(clips[middle], "fade_black", XF),
        ClipSpec(clips["c"]),
    ]
    return compile_episode(specs, dest, fps=FPS, width=W, height=H)


@pytest.fixture(scope="module")
def episode(clips: dict[str, Path], media_dir: Path):
    """The 3-scene episode and its decoded frames."""
    result = compile_three(clips, media_dir / "episode.mp4")
    return result, decode_frames(result.path)


def test_duration_and_frame_count_match_plan(episode) -> None:
    result, frames = episode
    planned = 3 * CLIP_FRAMES - 2 * X
    facts = probe_media(result.path)
    assert result.frame_count == facts.frame_count == len(frames) == planned
    assert facts.duration_s == pytest.approx(planned / FPS, abs=1e-3)
    assert (facts.width, facts.height, facts.fps) == (W, H, FPS)
    # Fast path: only the two windows were re-encoded, the rest stream-copied.
    assert result.fast_path and result.windows == 2
    assert result.reencoded_frames == 2 * X
    assert [round(p.start_s, 3) for p in result.placements] == [0.0, 1.0, 2.0]


def test_transitions_sit_at_the_planned_times(episode, clips: dict[str, Path]) -> None:
    _, frames = episode
    a, b, c = (decode_frames(clips[k]).astype(np.int16) for k in "abc")
    out = frames.astype(np.int16)
    n = CLIP_FRAMES
    # Outside the windows the frames are the clips' own, bit for bit (stream copy).
    assert np.array_equal(out[: n - X], a[: n - X])
    assert np.array_equal(out[n : 2 * n - 2 * X], b[X : n - X])
    assert np.array_equal(out[2 * n - X :], c[X:])
    # Crossfade window [24, 36): the middle frame is the mean of both clips.
    mid = n - X + X // 2
    blend = (a[mid] + b[X // 2]) / 2
    assert np.abs(out[mid] - blend).mean() < 6
    assert np.abs(out[mid] - a[mid]).mean() > 10
    # Fade-through-black window [48, 60): goes fully dark inside, not at its edges.
    window = [float(f.mean()) for f in out[2 * n - 2 * X : 2 * n - X]]
    assert min(window) < 5 and window[0] > 60
    assert out[2 * n - 2 * X - 1].mean() > 60 and out[2 * n - X].mean() > 60


def test_retake_changes_only_that_scene_and_its_windows(
    episode, clips: dict[str, Path], media_dir: Path
) -> None:
    _, before = episode
    retake = compile_three(clips, media_dir / "episode-retake.mp4", middle="d")
    after = decode_frames(retake.path)
    assert len(after) == len(before)
    changed = [i for i in range(len(before)) if not np.array_equal(before[i], after[i])]
    # Scene 1 spans [24, 60): its body plus the windows on either side. Nothing outside
    # moved; its body all did. (The last frames of a fade through black show only the next
    # scene, so they may come out identical.)
    scene = range(CLIP_FRAMES - X, 2 * CLIP_FRAMES - X)
    assert changed and set(changed) <= set(scene)
    assert set(range(CLIP_FRAMES - X, CLIP_FRAMES + X)) <= set(changed)


def test_cards_and_unnormalised_clip(clips: dict[str, Path], tmp_path: Path) -> None:
    # A Matroska clip at 30 fps, 320x180: normalised on the way in.
    mkv = make_source(tmp_path / "b.mkv", SOURCES["b"])
    specs = [ClipSpec(clips["a"]), ClipSpec(mkv), ClipSpec(clips["c"])]
    result = compile_episode(
        specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H,
        title_card=Card("Episode 1", duration_s=2.0, subtitle="The Tower"),
        end_card=Card("The End", duration_s=2.0),
    )  # fmt: skip
    planned = 48 + 3 * CLIP_FRAMES + 48 - 2 * X
    frames = decode_frames(result.path)
    assert result.frame_count == len(frames) == planned
    assert [p.kind for p in result.placements] == ["card", "scene", "scene", "scene", "card"]
    title = frames[0].astype(np.int16)
    # The card is its dark-blue background with light text drawn on it.
    assert title[..., 2].mean() > title[..., 0].mean() + 20 and title.max() > 200
    # Still cards fading through black pass QC (a card is exempt from the freeze check).
    report = run_qc(result.path, plan_qc(result, expect_audio=False, max_freeze_s=1.0))
    assert report.passed, report.failures


def test_clip_with_foreign_codec_parameters_is_reencoded(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    foreign = make_episode_clip(tmp_path / "foreign.mp4", SOURCES["a"])
    specs = [ClipSpec(clips["a"], "crossfade", XF), ClipSpec(foreign), ClipSpec(clips["c"])]
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H)
    frames = decode_frames(result.path)
    assert result.frame_count == len(frames) == 3 * CLIP_FRAMES - X
    assert result.reencoded_frames >= CLIP_FRAMES


def test_window_spanning_a_cut_and_a_crossfade(clips: dict[str, Path], tmp_path: Path) -> None:
    # Two clips with foreign codec parameters must be re-encoded whole, so one window holds
    # foreign1 -cut-> foreign2 -crossfade-> the head of c.
    one = make_episode_clip(tmp_path / "f1.mp4", SOURCES["a"])
    two = make_episode_clip(tmp_path / "f2.mp4", SOURCES["b"])
    specs = [
        ClipSpec(clips["a"]),
        ClipSpec(one),
        ClipSpec(two, "crossfade", XF),
        ClipSpec(clips["c"]),
    ]
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H)
    frames = decode_frames(result.path)
    assert result.frame_count == len(frames) == 4 * CLIP_FRAMES - X
    assert result.windows == 1 and result.copied_frames == 2 * CLIP_FRAMES - X
    a = decode_frames(clips["a"])
    assert np.array_equal(frames[:CLIP_FRAMES], a)


def test_foreign_clips_that_agree_fall_back_to_a_full_reencode(tmp_path: Path) -> None:
    # In-format clips from an encoder that recorded no CRF settings (constant QP) share
    # parameter sets with each other but not with Tower's windows, so nothing can be
    # copied next to a re-encoded window.
    paths = [
        encode_x264(
            source_frames(SOURCES["a"] + f",hue=h={90 * i}", (W, H), FPS, 1.5),
            tmp_path / f"f{i}.mp4",
            FPS,
            "-qp",
            "20",
        )  # fmt: skip
        for i in range(3)
    ]
    specs = [ClipSpec(paths[0], "crossfade", XF), ClipSpec(paths[1]), ClipSpec(paths[2])]
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H)
    assert not result.fast_path and result.notes
    assert result.frame_count == len(decode_frames(result.path)) == 3 * CLIP_FRAMES - X


def test_bad_transitions_are_rejected(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        compile_episode(
            [ClipSpec(clips["a"], "wipe", 0.5), ClipSpec(clips["b"])],
            tmp_path / "x.mp4", fps=FPS, width=W, height=H,
        )  # fmt: skip
    with pytest.raises(ValidationError):
        compile_episode(
            [ClipSpec(clips["a"], "crossfade", 1.0), ClipSpec(clips["b"], "crossfade", 1.0),
             ClipSpec(clips["c"])],
            tmp_path / "x.mp4", fps=FPS, width=W, height=H,
        )  # fmt: skip
    assert not (tmp_path / "x.mp4").exists()
