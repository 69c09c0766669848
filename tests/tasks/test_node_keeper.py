"""A GPU node's row follows its ComfyUI: registered at the first beat, read again every
`refresh_s` and when the ComfyUI answers after a silence (a restart may have changed its node
packs or models), heartbeats in between."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.models import WorkerNode
from tasks.pipeline.fleet import NodeKeeper
from tests.support.emulator import start_emulator
from workers.comfyui import ComfyUnavailable

NODE = "keeper-node"
REFRESH_S = 60.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def backend(tmp_path):
    emulator = start_emulator(tmp_path / "comfy")
    yield emulator
    emulator.stop()


@pytest.fixture
def keeper(engine, settings, backend):
    clock = Clock()
    node_settings = settings.with_overrides(worker_node=NODE, comfyui_url=backend.url)
    yield NodeKeeper(engine, node_settings, ["gpu", f"gpu.{NODE}"], lambda: REFRESH_S, clock)
    with Session(engine) as session, session.begin():
        session.execute(sa.delete(WorkerNode).where(WorkerNode.name == NODE))


def classes(engine) -> list[str]:
    with Session(engine) as session:
        return session.scalar(sa.select(WorkerNode.node_classes).where(WorkerNode.name == NODE))


def forget_classes(engine) -> None:
    """Empty the row's classes, as a registration before a node pack loaded would have."""
    with Session(engine) as session, session.begin():
        session.execute(
            sa.update(WorkerNode).where(WorkerNode.name == NODE).values(node_classes=[])
        )


def test_the_row_is_read_again_when_the_refresh_is_due(engine, keeper):
    keeper.tick()
    assert "RIFE VFI" in classes(engine)
    forget_classes(engine)
    keeper.clock.now += REFRESH_S - 1
    keeper.tick()  # a heartbeat only
    assert classes(engine) == []
    keeper.clock.now += 1
    keeper.tick()
    assert "RIFE VFI" in classes(engine)


def test_the_row_is_read_again_when_the_comfyui_answers_after_a_silence(
    engine, keeper, backend, tmp_path
):
    keeper.tick()
    forget_classes(engine)
    backend.stop()
    keeper.tick()  # the heartbeat finds it silent
    with pytest.raises(ComfyUnavailable):
        keeper.tick()  # registering while it is still down fails, and is tried again
    again = start_emulator(tmp_path / "comfy", port=backend.port)
    try:
        keeper.tick()
        assert "RIFE VFI" in classes(engine)
    finally:
        again.stop()
