"""Why a queued stage waits: an earlier stage it needs, no GPU node online, every capable node
drained or offline, or no node with what its workflow needs. Read by the status API, the
dashboard and so the CLI; the routing rules are tasks.pipeline.routing's."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.errors import FarmError
from shared.models import NodeStatus, StageRun, Status, WorkerNode, Workflow
from shared.stages import Per, position, stage_kind
from tasks.pipeline.routing import capabilities_of, describe_needs, is_fresh
from tasks.pipeline.stage_rows import output_key, scene_numbers
from tasks.pipeline.workflow_store import template_of
from workers.workflows import Requirements, bind, missing_on, requirements, with_placeholders

WAITING = (Status.QUEUED, Status.RETRYING)
TEXT_PARAMS = frozenset({"prompt", "negative_prompt", "seed"})


def waiting_reasons(session: Session, runs: list[StageRun]) -> dict[int, str]:
    """For each waiting run among a job's latest runs, why it has not started (by run id)."""
    numbers = scene_numbers(session, runs)
    nodes: list[WorkerNode] | None = None
    needs: dict[str, Requirements | None] = {}
    reasons = {}
    for run in runs:
        if run.status not in WAITING:
            continue
        blocker = earlier_unfinished(run, runs)
        if blocker is not None:
            reasons[run.id] = f"waiting for {describe_run(blocker, numbers)}"
        elif stage_kind(run.stage).is_gpu:
            nodes = nodes if nodes is not None else list(session.scalars(sa.select(WorkerNode)))
            reasons[run.id] = gpu_reason(session, run, nodes, needs)
        else:
            reasons[run.id] = "ready: waiting for a CPU worker to take it"
    return reasons


def describe_run(run: StageRun, numbers: dict[int, int]) -> str:
    """`keyframe of scene 2`, or `compile` for an episode stage."""
    if run.scene_id is None:
        return run.stage
    return f"{run.stage} of scene {numbers.get(run.scene_id, '?')}"


def earlier_unfinished(run: StageRun, runs: list[StageRun]) -> StageRun | None:
    """The nearest earlier stage `run` needs that has not succeeded, if any."""
    here = position(run.stage)
    if stage_kind(run.stage).per is Per.SCENE:
        before = [r for r in runs if r.scene_id == run.scene_id and position(r.stage) < here]
    else:  # an episode stage needs every scene stage and the episode stages before it
        before = [
            r for r in runs if stage_kind(r.stage).per is Per.SCENE or position(r.stage) < here
        ]
    pending = [r for r in before if r.status != Status.SUCCEEDED]
    return max(pending, key=lambda r: position(r.stage), default=None)


def gpu_reason(
    session: Session, run: StageRun, nodes: list[WorkerNode], known: dict[str, Requirements | None]
) -> str:
    """Why a GPU stage whose inputs are ready has not started (`known`: the requirements
    already worked out in this call, by workflow and parameters)."""
    live = [n for n in nodes if n.status != NodeStatus.OFFLINE and is_fresh(n)]
    if not live:
        return "no GPU node is online"
    # Scenes differ by prompt and seed, which never change what a workflow needs.
    params = {k: v for k, v in run.inputs.get("params", {}).items() if k not in TEXT_PARAMS}
    key = json.dumps([run.workflow_id, params], sort_keys=True, default=str)
    if key not in known:
        known[key] = stage_needs(session, run)
    needs = known[key]
    if needs is None:
        return "ready: waiting for a GPU worker to take it"
    capable = [n for n in nodes if not missing_on(needs, capabilities_of(n))]
    if not capable:
        return f"no node has what it needs: {describe_needs(needs)}"
    names = ", ".join(sorted(n.name for n in capable))
    ready = [n for n in capable if n in live]
    if not ready:
        return f"every node that has what it needs is offline ({names})"
    if all(n.status == NodeStatus.DRAINING for n in ready):
        return f"every node that has what it needs is drained ({names})"
    return f"ready: waiting for a free slot on {names}"


def stage_needs(session: Session, run: StageRun) -> Requirements | None:
    """The node classes and models the run's bound workflow needs (None when unreadable)."""
    workflow = session.get(Workflow, run.workflow_id) if run.workflow_id else None
    if workflow is None:
        return None
    try:
        template = template_of(workflow)
        params = dict(run.inputs.get("params", {}))
        return requirements(
            bind(template, with_placeholders(template, params), output_key=output_key(run))
        )
    except FarmError:
        return None
