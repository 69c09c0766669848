"""Fixtures for the workflow template tests: the shipped templates, specs and a recorded backend."""

from __future__ import annotations

import json

import pytest

from tests.workers.comfyui.transcript import fixtures_root
from workers.workflows import (
    Capabilities,
    Catalog,
    Template,
    capabilities_from_object_info,
    default_catalog,
    default_templates,
)

FIXTURES = fixtures_root()

# Parameters a pipeline would pass for one scene, per stage.
TYPICAL_PARAMS = {
    "keyframe": {
        "prompt": "1girl, red jacket, standing in a neon city street, night",
        "trigger_words": ["chr_token"],
        "loras": [{"name": "character_v1.safetensors", "strength": 0.8}],
        "seed": 123456789,
    },
    "keyframe_ref": {
        "image": "tower/job-0001/keyframe.png",
        "prompt": "1girl, red jacket, standing in a neon city street, night",
        "trigger_words": ["chr_token"],
        "loras": [{"name": "character_v1.safetensors", "strength": 0.8}],
        "width": 512,
        "height": 288,
        "denoise": 0.55,
        "seed": 123456789,
    },
    "animate": {
        "image": "tower/job-0001/keyframe.png",
        "prompt": "1girl, red jacket, walking, neon city street, night",
        "trigger_words": ["chr_token"],
        "loras": [{"name": "character_v1.safetensors", "strength": 0.8}],
        "frames": 16,
        "fps": 8,
        "seed": 987654321,
    },
    "interpolate": {"frames_dir": "tower/job-0001_frames", "multiplier": 2, "fps": 8},
    "bridge": {"frames_dir": "tower/job-0001_ends", "frames": 8, "multiplier": 9, "fps": 16},
    "animate_svd": {"image": "tower/job-0001/keyframe.png", "frames": 25, "fps": 6, "seed": 42},
    "upscale": {"frames_dir": "tower/job-0001_frames", "width": 512, "height": 288, "fps": 16},
    "upscale_model": {
        "frames_dir": "tower/job-0001_frames",
        "width": 512,
        "height": 288,
        "fps": 16,
        "model": "RealESRGAN_x2plus.pth",
    },
}


@pytest.fixture
def templates() -> dict[str, Template]:
    """Fresh default templates per test, so a test that mutates one cannot leak."""
    return default_templates()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The node specs recorded from the reference server."""
    return default_catalog()


@pytest.fixture(scope="session")
def recorded_backend() -> Capabilities:
    """The recording server as a backend: the classes recorded one by one, with the placeholder
    model files it had."""
    info: dict = {}
    for path in (FIXTURES / "object_info").glob("*.json"):
        if not path.name.startswith("_"):
            info.update(json.loads(path.read_text(encoding="utf-8")))
    return capabilities_from_object_info(info)
