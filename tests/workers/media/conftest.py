"""Small real media for the media tests: clips encoded as ComfyUI's VHS_VideoCombine encodes
them (libx264 defaults with B-frames, crf 19), 160x90 at 24 fps in the episode format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.workers.media import footage
from workers.media.library import LibraryEntry
from workers.media.normalise import normalise_clip
from workers.media.synthesis import generate_demo_library

FPS = 24
W, H = 160, 90
CLIP_S = 1.5
CLIP_FRAMES = 36
XF = 0.5

# Visually distinct moving sources, so scenes are told apart and nothing reads as frozen.
SOURCES = {
    "a": "testsrc2=size={size}:rate={rate}",
    "b": "mandelbrot=size={size}:rate={rate}",
    "c": "testsrc=size={size}:rate={rate},negate",
    "d": "life=size={size}:rate={rate}:mold=10:ratio=0.3:life_color=#ff8020:death_color=#2040c0",
}


def make_source(out: Path, template: str, *, vf: str | None = None, **options) -> Path:
    """A marked source as a generator hands it over (320x180 at 30 fps unless told)."""
    return footage.make_source(out, template, vf=vf, **options)


def make_episode_clip(out: Path, template: str, seconds: float = CLIP_S, **options) -> Path:
    """A marked source written by the node straight in the episode format (160x90, 24 fps)."""
    return footage.make_source(out, template, size=(W, H), rate=FPS, seconds=seconds, **options)


def decode_frames(path: str | Path, vf: str | None = None) -> np.ndarray:
    """Every video frame of `path` at the episode size as an (n, H, W, 3) uint8 array."""
    return footage.decode_frames(path, (W, H), vf)


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
def node_clips(media_dir: Path) -> dict[str, Path]:
    """Clips the node wrote already in the episode format: B-frames, one keyframe."""
    return {k: make_episode_clip(media_dir / f"node-{k}.mp4", v) for k, v in SOURCES.items()}


@pytest.fixture(scope="session")
def library(media_dir: Path) -> list[LibraryEntry]:
    """The generated demo music/sfx library."""
    return generate_demo_library(media_dir / "library")
