"""Routing GPU work: which backend runs a stage.

A stage goes only to a backend that has every node class and model its bound workflow needs,
is online, not draining and not avoided for the job; preferring the backend that last ran the
same checkpoint, then the least loaded. When no registered backend could ever run it, the stage
fails at once, naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.errors import PermanentError
from shared.models import NodeStatus, StageRun, Status, WorkerNode
from shared.models.columns import utcnow
from workers.workflows import Capabilities, Requirements, missing_on

HEARTBEAT_FRESH_S = 15.0
AVOID_AFTER_FAILURES = 2  # transient failures of one job on one backend
# A backend holding the checkpoint takes a first attempt from an idle backend while it runs
# fewer stages than this (one running, one queued): waiting there costs less than a
# checkpoint switch here. From a busy backend it takes it whatever its load: a switch there
# would wait behind that backend's own work as well.
AFFINITY_LOAD = 2


class NoCapableBackend(PermanentError):
    """No registered backend has what a stage needs, or none that has it came online."""

    code = "no_capable_backend"


@dataclass(frozen=True)
class Placement:
    """Where a stage should run: here, on another node's queue, or nowhere (with why); when
    here, this node's row as routing read it (`take_here` records on it)."""

    kind: str  # "here" | "elsewhere" | "wait" | "impossible"
    node: str | None = None
    reason: str = ""
    row: WorkerNode | None = field(default=None, compare=False, repr=False)

    @property
    def queue(self) -> str:
        """The Celery queue of the chosen node (the shared queue when waiting)."""
        return f"gpu.{self.node}" if self.node else "gpu"


def capabilities_of(node: WorkerNode) -> Capabilities:
    """A node's registered node classes and models, less the models it is known to lack."""
    lacking = node.lacking_models or {}
    return Capabilities(
        node_classes=frozenset(node.node_classes),
        models={
            k: frozenset(v) - frozenset(lacking.get(k, ())) for k, v in (node.models or {}).items()
        },
    )


def is_fresh(node: WorkerNode) -> bool:
    """Whether a node heartbeat recently enough to be trusted with work."""
    return node.last_heartbeat is not None and (
        utcnow() - node.last_heartbeat < timedelta(seconds=HEARTBEAT_FRESH_S)
    )


@dataclass(frozen=True)
class BackendLoad:
    """Stages running on each backend, and the backends that failed a job repeatedly."""

    running: dict[str, int]
    avoided: set[str]


def backend_load(session: Session, job_id: int) -> BackendLoad:
    """The running stages per backend and the backends `job_id` avoids, in one read."""
    running = StageRun.status == Status.RUNNING
    failed_here = sa.and_(StageRun.status == Status.FAILED, StageRun.job_id == job_id)
    rows = session.execute(
        sa.select(
            StageRun.backend,
            sa.func.count().filter(running),
            sa.func.count().filter(failed_here),
        )
        .where(StageRun.backend.is_not(None), sa.or_(running, failed_here))
        .group_by(StageRun.backend)
    ).all()
    return BackendLoad(
        running={backend: count for backend, count, _ in rows if count},
        avoided={backend for backend, _, failures in rows if failures >= AVOID_AFTER_FAILURES},
    )


def running_load(session: Session) -> dict[str, int]:
    """Running stages per backend."""
    rows = session.execute(
        sa.select(StageRun.backend, sa.func.count())
        .where(StageRun.status == Status.RUNNING, StageRun.backend.is_not(None))
        .group_by(StageRun.backend)
    ).all()
    return dict(rows)


def idle_holders(session: Session) -> dict[str, list[str]]:
    """Online backends running nothing, by the checkpoint each holds (in name order)."""
    load = running_load(session)
    nodes = session.scalars(
        sa.select(WorkerNode)
        .where(WorkerNode.status == NodeStatus.ONLINE, WorkerNode.last_checkpoint.is_not(None))
        .order_by(WorkerNode.name)
    )
    holders: dict[str, list[str]] = {}
    for node in nodes:
        if is_fresh(node) and not load.get(node.name):
            holders.setdefault(node.last_checkpoint, []).append(node.name)
    return holders


def place(
    session: Session,
    run: StageRun,
    needs: Requirements,
    checkpoint: str | None,
    here: str,
    *,
    settle: bool = False,
) -> Placement:
    """Choose the backend for a stage that `here` (a node name) has picked up.

    `settle`: the stage was re-routed often enough; it runs here if this backend can.
    `checkpoint`: None routes blind to the checkpoints backends have loaded.
    """
    nodes = list(session.scalars(sa.select(WorkerNode)))
    capable = [n for n in nodes if not missing_on(needs, capabilities_of(n))]
    if not capable:
        return Placement("impossible", reason=describe_missing(nodes, needs))
    online = [n for n in capable if n.status == NodeStatus.ONLINE and is_fresh(n)]
    if not online:
        return Placement("wait", reason=describe_waiting(capable, needs))
    counted = backend_load(session, run.job_id)
    # Every capable backend avoided: better them than nothing.
    eligible = [n for n in online if n.name not in counted.avoided] or online
    load = counted.running
    best = min(
        eligible,
        key=lambda n: (
            checkpoint is not None and n.last_checkpoint != checkpoint,
            load.get(n.name, 0),
            n.name != here,
        ),
    )
    mine = next((n for n in eligible if n.name == here), None)
    if mine is None:
        return Placement("elsewhere", best.name)
    if settle:
        return Placement("here", here, row=mine)
    # A retry stays where it was sent until this backend is avoided for the job. A first
    # attempt stays unless a backend that already has the checkpoint loaded takes it instead.
    if run.attempt == 1 and (
        checkpoint is not None
        and best.name != here
        and mine.last_checkpoint != checkpoint
        and best.last_checkpoint == checkpoint
        and (load.get(best.name, 0) < AFFINITY_LOAD or load.get(here, 0) > 0)
    ):
        return Placement("elsewhere", best.name)
    return Placement("here", here, row=mine)


def describe_needs(needs: Requirements) -> str:
    """A workflow's requirements in a line: its models, else its node classes."""
    models = [
        f"{folder}/{name}"
        for folder in sorted(needs.models)
        for name in sorted(needs.models[folder])
    ]
    return ", ".join(models) if models else ", ".join(sorted(needs.node_classes))


def describe_waiting(capable: list[WorkerNode], needs: Requirements) -> str:
    """Why a stage waits: what it needs and the state of each backend that has it."""
    states = ", ".join(
        f"{n.name} ({n.status if is_fresh(n) else 'offline'})"
        for n in sorted(capable, key=lambda n: n.name)
    )
    return f"it needs {describe_needs(needs)}; backends that have it: {states}"


def describe_missing(nodes: list[WorkerNode], needs: Requirements) -> str:
    """Why no backend can run a workflow: what the closest one lacks."""
    if not nodes:
        return "no GPU backend is registered"
    gaps = sorted((missing_on(needs, capabilities_of(n)), n.name) for n in nodes)
    lacking, name = min(gaps, key=lambda g: len(g[0]))
    return (
        f"no registered backend has what the workflow needs (closest, {name}, lacks: "
        f"{', '.join(lacking)})"
    )
