"""Periodic work (Celery beat): the lease sweeper, offline nodes, superseded outputs, the
metrics' totals.

A stage whose lease expired (its worker or node died) is handed back to the queue and its job's
canvas rebuilt; so is a job whose next stage's message vanished from the broker. The new canvas
re-attaches to prompts that still exist, so no GPU work is repeated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import transaction
from shared.models import Job, NodeStatus, StageRun, Status, WorkerNode
from shared.models.columns import utcnow
from shared.models.status import STAGE_MOVES, checked
from shared.settings_store import get_setting
from shared.stage_totals import fold_finishes
from shared.stages import Per, position, stage_kind
from tasks.app import app
from tasks.artifact_cleanup import clean_superseded
from tasks.broker_scan import task_queues_in_broker
from tasks.context import worker_context
from tasks.pipeline.fleet import mark_silent_nodes_offline
from tasks.pipeline.recording import next_attempt
from tasks.pipeline.stage_rows import latest_runs
from tasks.pipelines import dispatch_job
from workers.comfyui import ComfyProtocolError, ComfyUnavailable

log = logging.getLogger(__name__)

PROBE_TIMEOUT = (3.05, 5.0)  # connect, read: does a backend answer at all
ACTIVE_JOBS = (Status.QUEUED, Status.RUNNING)
WAITING = (Status.QUEUED, Status.RETRYING)


def requeue_expired(session: Session, cut_off: set[str] = frozenset()) -> set[int]:
    """Hand stages with an expired lease back to the queue; returns their jobs.

    A stage goes back as the same attempt, which re-attaches to its prompt where that still
    exists, unless its backend is `cut_off` (it did not answer: a node cut off by the network,
    whose prompt may still run there). Then the attempt ends and a new one, with its own prompt
    id and output key, runs elsewhere: no prompt runs on two backends at once, and the cut-off
    node's late result, for an attempt that ended, is discarded.
    """
    runs = session.scalars(
        sa.select(StageRun)
        .where(StageRun.status == Status.RUNNING, StageRun.lease_expires_at < utcnow())
        .with_for_update(skip_locked=True)
    ).all()
    for run in runs:
        if run.prompt_id and run.backend in cut_off:
            message = f"lease expired while backend {run.backend} did not answer"
            retry = next_attempt(session, run.id, message, {"code": "backend_cut_off"}, None)
            run.prompt_left_at = utcnow()  # its prompt may still run there
            log.warning("%s run_id=%s: new attempt run_id=%s", message, run.id, retry.id)
            continue
        run.status = checked(STAGE_MOVES, Status.RUNNING, Status.QUEUED)
        run.lease_owner = None
        run.lease_expires_at = None
        log.warning("lease expired run_id=%s job_id=%s: re-dispatching", run.id, run.job_id)
    return {run.job_id for run in runs}


def silent_backends(session: Session, answers: Callable[[str], bool]) -> set[str]:
    """Backends of stages whose lease expired that do not answer now (probed with no
    transaction open)."""
    rows = session.execute(
        sa.select(WorkerNode.name, WorkerNode.comfyui_url)
        .join(StageRun, StageRun.backend == WorkerNode.name)
        .where(StageRun.status == Status.RUNNING, StageRun.lease_expires_at < utcnow())
        .distinct()
    ).all()
    session.rollback()
    return {name for name, url in rows if url and not answers(url)}


def frontier(runs: list[StageRun]) -> list[StageRun]:
    """The stages that should have a message in the broker now: the next of each chain."""
    ordered = sorted(runs, key=lambda r: (position(r.stage), r.segment, r.id))
    chains: dict[int | None, list[StageRun]] = {}
    for run in ordered:
        if stage_kind(run.stage).per is Per.SCENE:
            chains.setdefault(run.scene_id, []).append(run)
    ready = [
        next((r for r in chain if r.status != Status.SUCCEEDED), None) for chain in chains.values()
    ]
    if all(r.status == Status.SUCCEEDED for chain in chains.values() for r in chain):
        ready.append(
            next(
                (
                    r
                    for r in ordered
                    if stage_kind(r.stage).per is not Per.SCENE and r.status != Status.SUCCEEDED
                ),
                None,
            )
        )
    return [r for r in ready if r is not None and r.status in WAITING]


def is_stale(run: StageRun, runs: list[StageRun]) -> bool:
    """Whether a waiting stage has been ready long enough that its message must exist."""
    cutoff = utcnow() - timedelta(seconds=get_setting("lost_message_grace_s"))
    before = [r.finished_at for r in runs if r.finished_at and r.id != run.id]
    ready_since = max([run.updated_at, *before])
    return ready_since < cutoff


def stranded_queues(session: Session, queues: set[str]) -> set[str]:
    """The node queues among `queues` that no live worker consumes (its node is offline, gone,
    or registered under another name), so their messages would wait forever."""
    consumed: set[str] = set()
    for node_queues in session.scalars(
        sa.select(WorkerNode.queues).where(WorkerNode.status != NodeStatus.OFFLINE)
    ):
        consumed.update(node_queues or ())
    return {q for q in queues if q.startswith("gpu.") and q not in consumed}


def jobs_with_lost_messages(session: Session, broker: redis.Redis, key_prefix: str) -> set[int]:
    """Active jobs whose next stage has no message in the broker (lost, e.g. Redis restarted) or
    only one in a queue nothing consumes."""
    jobs = session.scalars(
        sa.select(Job).where(Job.status.in_(ACTIVE_JOBS), Job.cancel_requested.is_(False))
    ).all()
    if not jobs:
        return set()
    queued = task_queues_in_broker(broker, key_prefix)
    stranded = stranded_queues(session, set(queued.values()))
    present = {task_id for task_id, queue in queued.items() if queue not in stranded}
    lost = set()
    for job in jobs:
        runs = latest_runs(session, job.id)
        stuck = [r for r in frontier(runs) if r.celery_task_id not in present and is_stale(r, runs)]
        for run in stuck:
            if run.celery_task_id in queued:
                log.warning(
                    "sweep: run_id=%s waits in %s, which nothing consumes: re-sending",
                    run.id,
                    queued[run.celery_task_id],
                )
        finished_unclosed = all(
            r.status == Status.SUCCEEDED for r in runs
        ) and job.updated_at < utcnow() - timedelta(seconds=get_setting("lost_message_grace_s"))
        if stuck or finished_unclosed:
            lost.add(job.id)
    return lost


# Frequent bookkeeping: no task events and no stored result, so Flower's task list and the
# result backend keep the render tasks (what it does is logged, and seen in the rows it moves).
FREQUENT = {
    "queue": "control",
    "soft_time_limit": 60,
    "time_limit": 90,
    "ignore_result": True,
    "send_events": False,
}


# Every SWEEP_EVERY_S seconds.
@app.task(name="tower.sweep", **FREQUENT)
def sweep() -> dict[str, list]:
    """Mark silent nodes offline and re-dispatch jobs with expired leases or lost messages."""
    ctx = worker_context()
    offline = mark_silent_nodes_offline(ctx.engine)

    def answers(url: str) -> bool:
        try:
            ctx.client(url).queue(timeout=PROBE_TIMEOUT)
        except (ComfyUnavailable, ComfyProtocolError):
            return False
        return True

    with Session(ctx.engine) as session:
        cut_off = silent_backends(session, answers)
    resume = transaction(ctx.engine, lambda session: requeue_expired(session, cut_off))
    broker = redis.Redis.from_url(app.conf.broker_url, socket_timeout=5)
    try:
        with Session(ctx.engine) as session:
            resume |= jobs_with_lost_messages(session, broker, ctx.settings.broker_key_prefix)
    except redis.RedisError as exc:
        log.warning("sweep: broker unreachable, lost-message check skipped: %s", exc)
    finally:
        broker.close()
    with ctx.app.app_context():
        for job_id in sorted(resume):
            dispatch_job(job_id)
    return {"offline": offline, "resumed": sorted(resume)}


# Hourly.
@app.task(name="tower.clean_artifacts", queue="control", soft_time_limit=300, time_limit=360)
def clean_artifacts() -> int:
    """Remove outputs superseded longer than `superseded_output_days`; returns how many."""
    ctx = worker_context()
    return clean_superseded(ctx.engine, ctx.store)


# Every minute: keeps the queue of finished stage runs short when nothing scrapes /metrics
# (a scrape folds it too).
@app.task(name="tower.fold_stage_finishes", **FREQUENT)
def fold_stage_finishes() -> int:
    """Fold finished stage runs into /metrics' totals; returns how many."""
    return transaction(worker_context().engine, fold_finishes)
