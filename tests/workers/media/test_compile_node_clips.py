"""compile_episode on clips as ComfyUI's video nodes write them: B-frames (pts != dts),
open GOPs, other timebases, variable frame rate, odd sizes, 10-bit and other pixel formats,
audio tracks, other containers and codecs. Every frame must land in its place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.workers.media import footage
from tests.workers.media.conftest import CLIP_FRAMES, FPS, SOURCES, XF, H, W, decode_frames
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.container import read_video_track
from workers.media.encoding import make_encoding
from workers.media.probe import probe_media

REAL_CLIP = Path(__file__).parents[2] / "fixtures/comfyui/media/vhs_h264_bframes_64x64_7f.mp4"
X = round(XF * FPS)


def assert_frames_in_place(actual: np.ndarray, expected: np.ndarray, tolerance: float) -> None:
    """Same count, each frame within `tolerance` RMS of its own expected frame and closer to
    it than to any other (a re-encode may blur, never reorder or drop)."""
    assert len(actual) == len(expected)
    if not len(actual):
        return
    a = actual.reshape(len(actual), -1).astype(np.float32)
    e = expected.reshape(len(expected), -1).astype(np.float32)
    rms = np.sqrt(
        np.maximum((a * a).sum(1)[:, None] + (e * e).sum(1) - 2 * a @ e.T, 0) / a.shape[1]
    )
    own = np.diag(rms)
    misplaced = [i for i in range(len(a)) if own[i] > tolerance or rms[i].min() < own[i] - 1e-3]
    assert not misplaced, f"frames out of place: {misplaced[:10]}"


def test_node_clips_are_copied_frame_exact(node_clips: dict[str, Path], tmp_path: Path) -> None:
    specs = [ClipSpec(node_clips[k]) for k in "abc"]
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H)
    assert result.copied_frames == 3 * CLIP_FRAMES and result.reencoded_frames == 0
    expected = np.concatenate([decode_frames(node_clips[k]) for k in "abc"])
    assert np.array_equal(decode_frames(result.path), expected)
    assert read_video_track(result.path).reorder_delay > 0  # the B-frames were kept


def test_node_clips_with_a_crossfade_join_one_stream(
    node_clips: dict[str, Path], tmp_path: Path
) -> None:
    # One GOP per clip: a is copied up to the last mini-GOP boundary before its crossfade,
    # the rest of a and all of b are re-encoded with the clips' own x264 settings, and c is
    # copied next to them (no full re-encode).
    specs = [ClipSpec(node_clips["a"], "crossfade", XF), ClipSpec(node_clips["b"]),
             ClipSpec(node_clips["c"])]  # fmt: skip
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H)
    n = CLIP_FRAMES
    end = max(k for k in read_video_track(node_clips["a"]).end_points if k <= n - X)
    assert not result.notes and result.copied_frames == end + n
    out = decode_frames(result.path)
    a, b, c = (decode_frames(node_clips[k]) for k in "abc")
    assert len(out) == result.frame_count == 3 * n - X
    assert np.array_equal(out[:end], a[:end])
    assert np.array_equal(out[2 * n - X :], c)
    assert_frames_in_place(out[end : n - X], a[end : n - X], tolerance=8)
    assert_frames_in_place(out[n : 2 * n - X], b[X:], tolerance=8)


def test_the_real_nodes_clip_lands_frame_exact(tmp_path: Path) -> None:
    # The clip VHS_VideoCombine wrote on a real server, twice, between clips encoded the same
    # way: all stream-copied, every frame in order.
    size = (64, 64)
    others = [
        footage.make_source(tmp_path / f"n{k}.mp4", SOURCES[k], size=size, rate=16, seconds=0.5)
        for k in "ab"
    ]
    paths = [REAL_CLIP, others[0], REAL_CLIP, others[1]]
    result = compile_episode(
        [ClipSpec(p) for p in paths], tmp_path / "ep.mp4", fps=16, width=64, height=64
    )
    expected = np.concatenate([footage.decode_frames(p, size) for p in paths])
    assert result.reencoded_frames == 0 and result.frame_count == len(expected) == 30
    assert np.array_equal(footage.decode_frames(result.path, size), expected)


def test_the_real_nodes_clip_crossfades_without_a_full_reencode(tmp_path: Path) -> None:
    size = (64, 64)
    other = footage.make_source(tmp_path / "n.mp4", SOURCES["a"], size=size, rate=16, seconds=1)
    specs = [ClipSpec(other), ClipSpec(REAL_CLIP, "crossfade", 0.125), ClipSpec(other)]
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=16, width=64, height=64)
    # The real clip is copied up to its last mini-GOP boundary before the crossfade.
    end = max(k for k in read_video_track(REAL_CLIP).end_points if k <= 7 - 2)
    assert not result.notes and result.copied_frames == 16 + end
    out = footage.decode_frames(result.path, size)
    own = footage.decode_frames(other, size)
    real = footage.decode_frames(REAL_CLIP, size)
    assert len(out) == 16 + 7 + 16 - 2
    assert np.array_equal(out[: 16 + end], np.concatenate([own, real[:end]]))
    assert_frames_in_place(out[16 + end : 21], real[end:5], tolerance=10)


def _frames(seconds: float = 1.5, size: tuple[int, int] = (W, H)) -> np.ndarray:
    return footage.source_frames(SOURCES["b"], size, FPS, seconds)


# Odd clips a node can write: (builder, copied as it is?).
ODD_CLIPS: dict[str, tuple[Callable[[Path], Path], bool]] = {
    "open_gop": (lambda d: footage.encode_x264(_frames(), d / "og.mp4", FPS, "-crf", "19",
                 "-x264-params", "open-gop=1:keyint=12:min-keyint=12:scenecut=0"), False),
    "timebase_1000": (lambda d: footage.retime(footage.encode_vhs(_frames(), d / "v.mp4", FPS),
                      d / "tb.mp4", 1000), True),
    "timebase_90000": (lambda d: footage.retime(footage.encode_vhs(_frames(), d / "v.mp4",
                       FPS), d / "tb.mp4", 90000), True),
    "variable_rate": (lambda d: footage.encode_x264(_frames(), d / "vfr.mp4", FPS, "-crf", "19",
                      "-vf", "setpts='(N+floor(N/4))/(24*TB)'", "-fps_mode", "vfr"), False),
    "with_audio": (lambda d: footage.add_audio(footage.encode_vhs(_frames(), d / "v.mp4", FPS),
                   d / "va.mp4"), True),
    "ten_bit": (lambda d: footage.encode_vhs(_frames(), d / "10.mp4", FPS,
                pix_fmt="yuv420p10le"), False),
    "odd_size_webm": (lambda d: footage.encode_vhs(_frames(size=(157, 87)), d / "o.webm", FPS,
                      "webm"), False),
    "ffv1_mkv_rgba64": (lambda d: footage.encode_vhs(_frames(), d / "f.mkv", FPS, "ffv1-mkv"),
                        False),
    "prores_422_10bit": (lambda d: footage.encode_vhs(_frames(), d / "p.mov", FPS, "ProRes"),
                         False),
    "h265": (lambda d: footage.encode_vhs(_frames(), d / "h.mp4", FPS, "h265-mp4"), False),
}  # fmt: skip


@pytest.mark.parametrize("case", ODD_CLIPS)
def test_odd_clip_between_node_clips(case: str, node_clips: dict[str, Path], tmp_path) -> None:
    build, copied = ODD_CLIPS[case]
    odd = build(tmp_path)
    specs = [ClipSpec(node_clips["a"]), ClipSpec(odd), ClipSpec(node_clips["c"])]
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H)
    # What the clip should show: resampled to the episode's rate by timestamp, letterboxed.
    chain = make_encoding(fps=FPS, width=W, height=H).filter_chain()
    expected = decode_frames(odd, vf=chain)
    out = decode_frames(result.path)
    n = CLIP_FRAMES
    assert len(out) == result.frame_count == 2 * n + len(expected)
    assert np.array_equal(out[:n], decode_frames(node_clips["a"]))
    assert np.array_equal(out[-n:], decode_frames(node_clips["c"]))
    if copied:
        assert result.reencoded_frames == 0
        assert np.array_equal(out[n:-n], expected)
    else:
        assert_frames_in_place(out[n:-n], expected, tolerance=8)
    facts = probe_media(result.path)
    assert (facts.pix_fmt, facts.width, facts.height, facts.fps) == ("yuv420p", W, H, FPS)
    assert not facts.has_audio


def test_open_gop_keyframes_are_not_cut_points(tmp_path: Path) -> None:
    clip = ODD_CLIPS["open_gop"][0](tmp_path)
    track = read_video_track(clip)
    # x264 marks its open-GOP I-frames as sync samples, but each is followed (in decode
    # order) by B-frames shown before it that reference the previous GOP.
    assert len(track.keyframes) > 1
    assert track.cut_points == (0, track.frame_count)
