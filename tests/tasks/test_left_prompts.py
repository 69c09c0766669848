"""Prompts that ended attempts left on a backend they could not reach are taken off it by the
node's worker once the backend answers: a pending one deleted, a running one interrupted, and
each forgotten; while the backend is silent they stay marked."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shared.models import StageRun
from shared.models.columns import utcnow
from tasks.pipeline.left_prompts import mark_prompt_left, take_off_left_prompts
from tests.support.emulator import start_emulator
from tests.support.web_server import free_port
from tests.workers.comfyui.test_control import keyframe, wait_until_running
from workers.comfyui import ComfyClient, ComfyUnavailable

NODE = "left-prompts-node"


@pytest.fixture
def backend(tmp_path) -> Iterator[ComfyClient]:
    emulator = start_emulator(tmp_path / "emulator")
    try:
        with ComfyClient(emulator.url) as client:
            yield client
    finally:
        emulator.stop()


def leave(engine, run_id: int, prompt_id: str, node: str = NODE) -> None:
    """Make `run_id` an ended attempt of `node` that left `prompt_id` there."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(StageRun)
            .where(StageRun.id == run_id)
            .values(backend=node, prompt_id=prompt_id, status="failed", finished_at=utcnow())
        )
    mark_prompt_left(engine, run_id)


def left_marks(engine, run_ids: list[int]) -> list[bool]:
    with engine.connect() as conn:
        marks = dict(
            conn.execute(
                sa.select(StageRun.id, StageRun.prompt_left_at).where(StageRun.id.in_(run_ids))
            ).all()
        )
    return [marks[i] is not None for i in run_ids]


def test_a_running_and_a_pending_prompt_left_behind_are_taken_off(engine, job_rows, backend):
    _, (running_run, pending_run, _) = job_rows
    running, pending = str(uuid.uuid4()), str(uuid.uuid4())
    client_id = str(uuid.uuid4())
    backend.submit(keyframe(400), prompt_id=running, client_id=client_id)
    backend.submit(keyframe(3), prompt_id=pending, client_id=client_id)
    wait_until_running(backend, running)
    leave(engine, running_run, running)
    leave(engine, pending_run, pending)

    assert take_off_left_prompts(engine, NODE, backend.base_url) == 2

    outcome = backend.follow(running, client_id=client_id, deadline=time.monotonic() + 30)
    assert outcome.status == "interrupted"
    assert backend.locate(pending) is None  # deleted before it ran
    assert left_marks(engine, [running_run, pending_run]) == [False, False]
    assert take_off_left_prompts(engine, NODE, backend.base_url) == 0


def test_a_silent_backend_keeps_its_left_prompts_marked(engine, job_rows):
    _, (run_id, _, _) = job_rows
    leave(engine, run_id, str(uuid.uuid4()))

    with pytest.raises(ComfyUnavailable):
        take_off_left_prompts(engine, NODE, f"http://127.0.0.1:{free_port()}")

    assert left_marks(engine, [run_id]) == [True]
