"""Prompts that ended attempts left on a backend they could not reach.

ComfyUI runs a queued prompt to its end whether or not anyone still follows it. An attempt
that gives up on its prompt takes it off its backend (gpu_flow.GpuDelivery.withdraw), but not
when that backend does not answer: a node cut off by the network, or a ComfyUI that stopped
answering for a while. Its prompt may still be queued or running there, and would hold the GPU
for a result nobody collects (a retry on the same backend queued behind it). Such an attempt
is marked, and the node's own worker takes its prompt off once its ComfyUI answers again.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.db import transaction
from shared.models import StageRun
from shared.models.columns import utcnow
from workers.comfyui import ComfyClient

log = logging.getLogger(__name__)

# Short: an attempt withdraws its prompt between its soft and hard time limits, and a node's
# heartbeat thread takes left ones off between two beats.
TAKE_OFF_TIMEOUT = (2.0, 5.0)
BATCH = 100  # prompts taken off per beat; the rest wait for the next one


def mark_prompt_left(engine: Engine, run_id: int) -> None:
    """Note that the ended attempt `run_id` may have left its prompt on its backend."""
    transaction(
        engine,
        lambda session: session.execute(
            sa.update(StageRun).where(StageRun.id == run_id).values(prompt_left_at=utcnow())
        ),
    )


def forget_prompt_left(engine: Engine, run_ids: list[int]) -> None:
    """Note that these attempts' prompts are off their backends."""
    transaction(
        engine,
        lambda session: session.execute(
            sa.update(StageRun).where(StageRun.id.in_(run_ids)).values(prompt_left_at=None)
        ),
    )


def take_off_left_prompts(engine: Engine, node: str, comfyui_url: str) -> int:
    """Take the prompts left on this node's backend off it (pending ones deleted, a running
    one interrupted, finished ones untouched) and forget each; how many.

    :raises ComfyUnavailable: the backend stopped answering (the rest wait for next time).
    """
    with engine.connect() as conn:
        left = conn.execute(
            sa.select(StageRun.id, StageRun.prompt_id)
            .where(
                StageRun.backend == node,
                StageRun.prompt_left_at.is_not(None),
                StageRun.prompt_id.is_not(None),
            )
            .order_by(StageRun.id)
            .limit(BATCH)
        ).all()
    if not left:
        return 0
    prompt_ids = [prompt_id for _, prompt_id in left]
    with ComfyClient(comfyui_url, timeout=TAKE_OFF_TIMEOUT) as client:
        # All pending ones first: none starts when a running one is interrupted.
        client.delete_pending(prompt_ids)
        for prompt_id in prompt_ids:
            client.interrupt(prompt_id)
    forget_prompt_left(engine, [run_id for run_id, _ in left])
    log.info("took off %d prompt(s) left on node=%s: %s", len(left), node, ", ".join(prompt_ids))
    return len(left)
