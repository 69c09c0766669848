"""Emulator processes for the emulator's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.comfy_emulator.transcript import fixtures_dir
from tests.support.emulator import Emulator, start_emulator

# The placeholder inventory of the recorded server, so 400 bodies compare exactly.
RECORDED_MODELS = {
    "checkpoints": ["dummy_sd15.safetensors", "svd/dummy_svd_xt.safetensors"],
    "loras": ["dummy_character_v1.safetensors"],
    "animatediff_models": ["dummy_mm_sd_v15_v2.ckpt"],
    "rife": ["rife47.pth", "rife49.pth"],
}


@pytest.fixture(scope="session", autouse=True)
def _fixtures_present() -> None:
    assert fixtures_dir().is_dir(), f"recorded fixtures not found at {fixtures_dir()}"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator with the recorded server's model inventory."""
    with start_emulator(tmp_path_factory.mktemp("emu-recorded"), models=RECORDED_MODELS) as emu:
        yield emu


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator with its default inventory (the reference workflows' models)."""
    with start_emulator(tmp_path_factory.mktemp("emu-default")) as emu:
        yield emu
