"""Which models planned stages need that no online GPU node has (LoRAs, checkpoints, ...).

A submission is not refused for these (a node with the model may come online; the stage waits
`NODE_WAIT_S` for one), but the submitter is told before any GPU time is spent.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.models import NodeStatus, StageRun, WorkerNode
from tasks.pipeline.routing import capabilities_of, is_fresh
from tasks.pipeline.workflow_store import template_by_id
from workers.workflows import bind, requirements, with_placeholders


def online_nodes(session: Session) -> list[WorkerNode]:
    """Nodes that are online and heartbeat recently (drained and silent ones do not count)."""
    nodes = session.scalars(sa.select(WorkerNode).where(WorkerNode.status == NodeStatus.ONLINE))
    return [n for n in nodes if is_fresh(n)]


def needed_models(session: Session, runs: Iterable[StageRun]) -> set[tuple[str, str]]:
    """(folder, file) of every model the planned GPU runs' bound workflows name."""
    needed: set[tuple[str, str]] = set()
    for run in runs:
        if run.workflow_id is None:
            continue
        template = template_by_id(session, run.workflow_id)
        params = with_placeholders(template, run.inputs.get("params", {}))
        prompt = bind(template, params, output_key="tower/check")
        for folder, names in requirements(prompt).models.items():
            needed.update((folder, name) for name in names)
    return needed


def models_missing_online(session: Session, runs: Iterable[StageRun]) -> set[tuple[str, str]]:
    """(folder, file) of each model the runs need that no online node has (or every model,
    when no node is online)."""
    capabilities = [capabilities_of(n) for n in online_nodes(session)]
    return {
        (folder, name)
        for folder, name in needed_models(session, runs)
        if not any(name in c.models.get(folder, ()) for c in capabilities)
    }
