"""A GPU node's row follows its ComfyUI: registered at the first beat, read again every
`refresh_s` and when the ComfyUI answers after a silence (a restart may have changed its node
packs or models), heartbeats in between. Every beat its ComfyUI answers takes off the prompts
ended attempts left there."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.models import WorkerNode
from tasks.pipeline.fleet import NodeKeeper
from tests.support.emulator import start_emulator
from tests.tasks.test_left_prompts import leave, left_marks
from tests.workers.comfyui.test_control import keyframe, wait_until_running
from workers.comfyui import ComfyClient, ComfyUnavailable

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


def test_a_prompt_left_between_registrations_is_taken_off_at_the_next_heartbeat(
    engine, keeper, backend, job_rows
):
    """A withdrawal that failed while the node's heartbeat went on (a blip on the way to its
    ComfyUI) waits one beat, not a whole refresh."""
    keeper.tick()
    _, (run_id, _, _) = job_rows
    prompt_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    with ComfyClient(backend.url) as client:
        client.submit(keyframe(400), prompt_id=prompt_id, client_id=client_id)
        wait_until_running(client, prompt_id)
        leave(engine, run_id, prompt_id, node=NODE)
        keeper.clock.now += 1
        keeper.tick()  # a heartbeat, the refresh still far off
        assert left_marks(engine, [run_id]) == [False]
        outcome = client.follow(prompt_id, client_id=client_id, deadline=time.monotonic() + 30)
    assert outcome.status == "interrupted"
