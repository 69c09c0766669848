"""probe_media reads a file's facts in this process, and they are the facts ffprobe reports."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.workers.media import footage
from tests.workers.media.conftest import SOURCES
from workers.media.container import TruncatedMedia, read_video_track
from workers.media.probe import probe_media
from workers.media.tool import FfmpegError, run_ffmpeg

FIXTURE_CLIP = Path(__file__).parents[2] / "fixtures/comfyui/media/vhs_h264_bframes_64x64_7f.mp4"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The node's own clip (B-frames), a 10-bit one, one with audio as MP4 and as Matroska,
    an AV1 WebM (decoded by a library named apart from its codec), a PNG, and an MP4 cut short
    after its tables (they list more frames than it holds)."""
    folder = tmp_path_factory.mktemp("probe")
    voiced = footage.add_audio(
        footage.make_source(folder / "silent.mp4", SOURCES["a"], size=(64, 36), seconds=1.0),
        folder / "voiced.mp4",
    )
    ten_bit = footage.make_source(
        folder / "ten.mp4", SOURCES["b"], size=(48, 32), seconds=0.5, pix_fmt="yuv420p10le"
    )
    matroska = folder / "voiced.mkv"
    run_ffmpeg(["-i", voiced, "-c", "copy", matroska])
    av1 = folder / "av1.webm"
    run_ffmpeg(["-i", ten_bit, "-c:v", "libaom-av1", "-cpu-used", "8", "-pix_fmt", "yuv420p", av1])
    image = folder / "still.png"
    run_ffmpeg(["-i", ten_bit, "-frames:v", "1", image])
    frames = footage.source_frames(SOURCES["c"], (64, 36), 24, 2.0)
    whole = footage.encode_x264(frames, folder / "whole.mp4", 24, "-movflags", "+faststart")
    cut = folder / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    return {"node": FIXTURE_CLIP, "ten_bit": ten_bit, "voiced": voiced, "matroska": matroska,
            "image": image, "cut": cut, "av1": av1}  # fmt: skip


def ffprobe_facts(path: Path) -> dict[str, object]:
    """What the system ffprobe says about the same fields."""
    cmd = ["ffprobe", "-v", "error", "-count_packets", "-print_format", "json",
           "-show_streams", "-show_format", str(path)]  # fmt: skip
    data = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    audio = next((s for s in data["streams"] if s["codec_type"] == "audio"), {})
    num, den = video["avg_frame_rate"].split("/")
    return {
        "fps": int(num) / int(den) if int(den) else 0.0,
        "frame_count": int(video["nb_read_packets"]),
        "width": video["width"],
        "height": video["height"],
        "pix_fmt": video["pix_fmt"],
        "codec": video["codec_name"],
        "has_audio": bool(audio),
        "audio_codec": audio.get("codec_name", ""),
        "duration_s": float(data["format"].get("duration", 0.0)),
    }


@pytest.mark.skipif(not shutil.which("ffprobe"), reason="no ffprobe to compare with")
@pytest.mark.parametrize("name", ["node", "ten_bit", "voiced", "matroska", "image", "cut", "av1"])
def test_the_facts_are_ffprobes(media: dict[str, Path], name: str) -> None:
    facts = probe_media(media[name]).to_dict()
    expected = ffprobe_facts(media[name])
    # ffprobe prints a container's duration in whole milliseconds for some formats.
    assert facts.pop("duration_s") == pytest.approx(expected.pop("duration_s"), abs=0.001)
    assert {key: facts[key] for key in expected} == expected


def test_the_frames_are_counted_not_taken_from_the_tables(media: dict[str, Path]) -> None:
    # The tables list 48 frames: read_video_track refuses a file that ends before they do.
    with pytest.raises(TruncatedMedia, match="truncated"):
        read_video_track(media["cut"])
    assert 0 < probe_media(media["cut"]).frame_count < 48


@pytest.mark.parametrize("content", [b"", b"hello", b"\x00\x00\x00\x20ftypisom" + bytes(24)])
def test_a_file_that_is_not_media_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(FfmpegError, match="not readable media"):
        probe_media(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FfmpegError, match="no such file"):
        probe_media(tmp_path / "gone.mp4")
