"""Decoding a video input into frames for a GPU stage (interpolation takes the animate
stage's video when it left no frames): a file that is not a video fails the stage with a
classified error, and leaves no scratch folder behind."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from shared.errors import PermanentError
from workers.gpu_stage import StageInput, frame_files
from workers.media.tool import FfmpegError, run_ffmpeg


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where frame_files makes its scratch folders (checked for leftovers)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_video_is_decoded_to_every_frame(tmp_path: Path, scratch: Path) -> None:
    video = tmp_path / "clip.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=8", "-frames:v", "5",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", video])  # fmt: skip
    with frame_files(StageInput("video", video)) as frames:
        assert [f.name for f in frames] == [f"{i:05d}.png" for i in range(1, 6)]
    assert not list(scratch.iterdir())


@pytest.mark.parametrize("kind", ["audio only", "not media"])
def test_an_undecodable_video_is_a_classified_error(
    tmp_path: Path, scratch: Path, kind: str
) -> None:
    video = tmp_path / "clip.mp4"
    if kind == "audio only":
        run_ffmpeg(["-f", "lavfi", "-i", "sine=r=8000", "-t", "0.2", "-c:a", "aac", video])
    else:
        video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    with pytest.raises(FfmpegError) as caught, frame_files(StageInput("video", video)):
        pass
    assert isinstance(caught.value, PermanentError)
    assert not list(scratch.iterdir()), "the scratch folder was left behind"
