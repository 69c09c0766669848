"""Fixtures for the ComfyUI client tests: a real emulator process and clients of it."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workers.comfyui.transcript import fixtures_root
from workers.comfyui import ComfyClient, FollowSettings

FAST = FollowSettings(poll_interval=0.1, check_interval=0.5, unreachable_grace=2.0)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One emulator process for the session (tests that kill it start their own)."""
    from tests.support.emulator import start_emulator

    server = start_emulator(tmp_path_factory.mktemp("comfy"), step_seconds=0.01)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(emulator: Any) -> Iterator[ComfyClient]:
    """A client of the session emulator with short test timings."""
    with ComfyClient(emulator.url, timeout=(2.0, 10.0), follow_settings=FAST) as comfy:
        yield comfy


@pytest.fixture
def client_id() -> str:
    """A fresh client id (one per worker process in production)."""
    return uuid.uuid4().hex


def new_prompt_id() -> str:
    """A canonical lowercase UUID for a prompt."""
    return str(uuid.uuid4())


def load_workflow(name: str) -> dict[str, Any]:
    """One of the four reference stage workflows, as a fresh copy."""
    path = fixtures_root() / "workflows" / f"{name}.json"
    return copy.deepcopy(json.loads(Path(path).read_text()))
