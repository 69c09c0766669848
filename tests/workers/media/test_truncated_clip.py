"""A scene clip cut short after its tables (an MP4 written moov-first, then copied or
downloaded only in part): its tables promise frames the file does not hold. Compiling it
fails naming the clip, rather than a stream copy failing without a reason, or normalising
decoding what is there and shortening the scene without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import PermanentError
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.tool import run_ffmpeg


def moov_first_clip(out: Path, size: str) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=16", "-frames:v", "16",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                out])  # fmt: skip
    return out


def cut_short(clip: Path, out: Path) -> Path:
    data = clip.read_bytes()
    out.write_bytes(data[: len(data) * 2 // 3])
    return out


@pytest.mark.parametrize("size", ["64x64", "80x48"], ids=["copied", "normalised"])
def test_a_truncated_clip_fails_the_compile_naming_it(tmp_path: Path, size: str) -> None:
    whole = moov_first_clip(tmp_path / "whole.mp4", "64x64")
    short = cut_short(moov_first_clip(tmp_path / "full.mp4", size), tmp_path / "short.mp4")
    with pytest.raises(PermanentError, match="short.mp4: truncated"):
        compile_episode(
            [ClipSpec(whole), ClipSpec(short)], tmp_path / "ep.mp4", fps=16, width=64, height=64
        )
    assert not (tmp_path / "ep.mp4").exists()
