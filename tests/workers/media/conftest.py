"""Small real media for the media tests: lavfi clips made with the real ffmpeg, 160x90 at 24 fps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workers.media.library import LibraryEntry
from workers.media.normalise import normalise_clip
from workers.media.synthesis import generate_demo_library
from workers.media.tool import run_ffmpeg

FPS = 24
W, H = 160, 90
CLIP_S = 1.5
CLIP_FRAMES = 36
XF = 0.5

# Visually distinct moving sources, so scenes are told apart and nothing reads as frozen.
SOURCES = {
    "a": "testsrc2=size=320x180:rate=30",
    "b": "mandelbrot=size=320x180:rate=30",
    "c": "testsrc=size=320x180:rate=30,negate",
    "d": "life=size=320x180:rate=30:mold=10:ratio=0.3:life_color=#ff8020:death_color=#2040c0",
}


def make_source(out: Path, lavfi: str, *, vf: str | None = None, seconds: float = CLIP_S) -> Path:
    """Encode `seconds` of a lavfi source (optionally filtered) to an MP4 at `out`."""
    args = ["-f", "lavfi", "-i", lavfi, "-t", f"{seconds}"]
    if vf:
        args += ["-vf", vf]
    run_ffmpeg([*args, "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", out])
    return out


def decode_frames(path: str | Path) -> np.ndarray:
    """Every video frame of `path` as an (n, H, W, 3) uint8 array."""
    raw = run_ffmpeg(["-i", path, "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    return np.frombuffer(raw.stdout, np.uint8).reshape(-1, H, W, 3)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder shared by the media tests."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def raw_clips(media_dir: Path) -> dict[str, Path]:
    """Source clips as a generator would hand them over: 320x180 at 30 fps."""
    return {k: make_source(media_dir / f"raw-{k}.mp4", v) for k, v in SOURCES.items()}


@pytest.fixture(scope="session")
def clips(raw_clips: dict[str, Path], media_dir: Path) -> dict[str, Path]:
    """The same clips normalised to 160x90 at 24 fps, with keyframes where 0.5 s
    transition windows end and start."""
    return {
        k: normalise_clip(
            p, media_dir / f"clip-{k}.mp4", fps=FPS, width=W, height=H, head_s=XF, tail_s=XF
        )
        for k, p in raw_clips.items()
    }


@pytest.fixture(scope="session")
def library(media_dir: Path) -> list[LibraryEntry]:
    """The generated demo music/sfx library."""
    return generate_demo_library(media_dir / "library")
