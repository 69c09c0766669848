"""run_qc on real episodes: a good one passes; black, frozen, missing and reordered scenes,
and frames out of order or missing, fail."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.workers.media.conftest import FPS, SOURCES, XF, H, W, decode_frames, make_source
from tests.workers.media.footage import encode_vhs, encode_x264, source_frames
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.mixer import MusicCue, mix_episode
from workers.media.normalise import normalise_clip
from workers.media.qc import QcFailed, plan_qc, run_qc
from workers.media.tool import run_ffmpeg


def compile_clips(paths: list[Path], dest: Path, transition: str = "crossfade"):
    """The same transition at every boundary."""
    specs = [ClipSpec(p, transition, XF) for p in paths]
    return compile_episode(specs, dest, fps=FPS, width=W, height=H)


def injected(media_dir: Path, name: str, vf: str) -> Path:
    """Clip "b" with a defect filtered in, normalised like any scene."""
    raw = make_source(media_dir / f"raw-{name}.mp4", SOURCES["b"], vf=vf)
    return normalise_clip(
        raw, media_dir / f"clip-{name}.mp4", fps=FPS, width=W, height=H, keyframes_s=[XF]
    )


def failures(report) -> list[tuple[str, int | None]]:
    return [(c.name, c.scene_index) for c in report.failures]


def test_good_mixed_episode_passes(clips, library, media_dir: Path) -> None:
    result = compile_clips([clips["a"], clips["b"], clips["c"]], media_dir / "qc-good.mp4")
    calm = next(e for e in library if e.name == "calm loop")
    mixed = mix_episode(
        result.path, media_dir / "qc-good-mixed.mp4", music=[MusicCue(calm.path, 0, 3.5)]
    )
    report = run_qc(mixed.path, plan_qc(result))
    assert report.passed, report.failures
    assert {c.name for c in report.checks} >= {"duration", "fps", "resolution", "audio", "scene"}
    json.dumps(report.to_dict())
    assert report.raise_if_failed() is report


def test_audio_required_after_mix(clips, media_dir: Path) -> None:
    result = compile_clips([clips["a"], clips["b"], clips["c"]], media_dir / "qc-silent.mp4")
    report = run_qc(result.path, plan_qc(result))
    assert failures(report) == [("audio", None)]


def test_black_stretch_is_caught_with_scene_and_time(clips, media_dir: Path) -> None:
    black = injected(media_dir, "black", "drawbox=color=black:t=fill:enable='between(t,0.5,1.3)'")
    result = compile_clips([clips["a"], black, clips["c"]], media_dir / "qc-black.mp4")
    report = run_qc(result.path, plan_qc(result, expect_audio=False, max_black_s=0.5))
    assert ("black", 1) in failures(report)
    black_check = next(c for c in report.failures if c.name == "black")
    assert black_check.at_s == pytest.approx(1.0 + 0.5, abs=0.1)
    with pytest.raises(QcFailed) as info:
        report.raise_if_failed()
    assert info.value.report is report and "black" in info.value.message


def test_frozen_stretch_is_caught(clips, media_dir: Path) -> None:
    frozen = injected(
        media_dir, "frozen", "split[x][y];[x][y]freezeframes=first=12:last=40:replace=12"
    )
    # Cuts around it, so the whole frozen stretch (0.4-1.37 s of the clip) shows.
    paths = [clips["a"], frozen, clips["c"]]
    result = compile_clips(paths, media_dir / "qc-frozen.mp4", "cut")
    report = run_qc(result.path, plan_qc(result, expect_audio=False, max_freeze_s=0.7))
    assert failures(report) == [("frozen", 1)]
    assert report.failures[0].at_s == pytest.approx(1.5 + 0.45, abs=0.1)
    # The same clip with its freeze mostly hidden under crossfades stays under the limit.
    hidden = compile_clips(paths, media_dir / "qc-frozen-xf.mp4")
    assert run_qc(hidden.path, plan_qc(hidden, expect_audio=False, max_freeze_s=0.7)).passed


def test_missing_scene_is_caught(clips, media_dir: Path) -> None:
    planned = compile_clips([clips["a"], clips["b"], clips["c"]], media_dir / "qc-plan.mp4")
    short = compile_clips([clips["a"], clips["c"]], media_dir / "qc-missing.mp4")
    report = run_qc(short.path, plan_qc(planned, expect_audio=False))
    found = failures(report)
    assert ("duration", None) in found and ("scene", 1) in found
    assert ("scene", 0) not in found
    scene1 = next(c for c in report.failures if c.scene_index == 1)
    assert "scene 1 missing at" in scene1.message and "not found anywhere" in scene1.message


def test_scenes_out_of_order_are_caught(clips, media_dir: Path) -> None:
    planned = compile_clips([clips["a"], clips["b"], clips["c"]], media_dir / "qc-plan2.mp4")
    swapped = compile_clips([clips["a"], clips["c"], clips["b"]], media_dir / "qc-swap.mp4")
    report = run_qc(swapped.path, plan_qc(planned, expect_audio=False))
    found = failures(report)
    assert ("scene", 1) in found and ("scene", 2) in found and ("order", 2) in found
    assert ("duration", None) not in found


def frame_checks(report) -> dict[int | None, bool]:
    """Scene index -> whether its frames-in-order check passed."""
    return {c.scene_index: c.passed for c in report.checks if c.name == "frames"}


@pytest.fixture(scope="module")
def node_episode(node_clips, media_dir: Path):
    """Three clips as the node writes them, crossfaded: copied and re-encoded frames."""
    return compile_clips([node_clips[k] for k in "abc"], media_dir / "qc-node.mp4")


def test_node_episode_has_every_frame_in_place(node_episode) -> None:
    report = run_qc(node_episode.path, plan_qc(node_episode, expect_audio=False))
    assert report.passed, report.failures
    assert frame_checks(report) == {0: True, 1: True, 2: True}


def test_frames_stamped_in_decode_order_are_caught(node_clips, media_dir: Path) -> None:
    # What compile used to do with B-frame clips: restamp packets by their decode position.
    good = compile_clips([node_clips[k] for k in "abc"], media_dir / "qc-cuts.mp4", "cut")
    bad = media_dir / "qc-restamped.mp4"
    run_ffmpeg(["-i", good.path, "-c", "copy", "-bsf:v", "setts=ts=N*512",
                "-video_track_timescale", "12288", bad])  # fmt: skip
    report = run_qc(bad, plan_qc(good, expect_audio=False))
    assert frame_checks(report) == {0: False, 1: False, 2: False}
    first = next(c for c in report.failures if c.name == "frames")
    assert "out of order or missing" in first.message and first.scene_index == 0


def test_a_dropped_frame_is_caught_where_it_is(node_episode, media_dir: Path) -> None:
    # Frame 40 (scene 1, between its crossfades) is dropped; the last frame is held to keep the
    # duration, so only the frames' places give it away.
    frames = decode_frames(node_episode.path)
    kept = np.concatenate([frames[:40], frames[41:], frames[-1:]])
    bad = encode_x264(kept, media_dir / "qc-dropped.mp4", FPS, "-crf", "12")
    report = run_qc(bad, plan_qc(node_episode, expect_audio=False))
    assert frame_checks(report) == {0: True, 1: False, 2: False}
    scene1 = next(c for c in report.failures if c.scene_index == 1)
    assert scene1.name == "frames" and scene1.at_s == pytest.approx(40 / FPS, abs=0.05)


def test_held_frames_are_not_out_of_place(node_clips, media_dir: Path) -> None:
    # Animation on twos: every drawing shown for two frames.
    drawings = source_frames(SOURCES["d"], (W, H), FPS, 1.5)[::2]
    held = encode_vhs(np.repeat(drawings, 2, axis=0), media_dir / "qc-twos.mp4", FPS)
    result = compile_clips([node_clips["a"], held, node_clips["c"]], media_dir / "qc-twos-ep.mp4")
    report = run_qc(result.path, plan_qc(result, expect_audio=False))
    assert report.passed, report.failures
