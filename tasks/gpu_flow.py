"""The life of one GPU stage delivery: claim, place, run on ComfyUI (or re-attach), record.

Called by the thin render tasks; everything here reads and writes rows around the plain
`workers.gpu_stage.run_gpu_stage`, never holding a database session during the slow part.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa
from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from shared.errors import PermanentError, TransientError
from shared.models import StageRun, Status, WorkerNode
from shared.models.columns import utcnow
from tasks.context import WorkerContext, worker_context
from tasks.delivery import (
    Claimed,
    claim_delivery,
    error_detail,
    fail_stage,
    fail_unexpected,
    skipped,
)
from tasks.fleet import mark_model_lacking, node_name
from tasks.leases import LeaseKeeper, Owner, release
from tasks.progress_relay import ProgressRelay
from tasks.recording import next_attempt, record_cancelled, record_success
from tasks.routing import NoCapableBackend, Placement, place
from tasks.stage_rows import GpuWork, gpu_work
from workers.comfyui import ComfyInterrupted, ComfyModelMissing, ComfyUnavailable
from workers.gpu_stage import StageSpec, run_gpu_stage
from workers.storage import LocalStore
from workers.workflows import bind, requirements

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
# A stage re-routed this often runs where it lands, if that backend can run it at all.
MAX_REROUTES = 8
# Between looks for a capable backend while none is online (bounded by NODE_WAIT_S).
NODE_POLL_S = 2.0


def backoff_s(attempt: int) -> float:
    """Seconds before retry number `attempt` (bounded exponential)."""
    return min(30.0, 2.0 ** (attempt - 1))


def run_gpu_delivery(task: Task, run_id: int, generation: int,
                     reroutes: int = 0) -> dict[str, Any]:
    """Handle one delivery of a GPU stage task; returns a small summary for the result backend.

    `reroutes`: how often this attempt's message was already sent to another backend.

    :raises Ignore: this delivery has nothing to do (duplicate, superseded, cancelled).
    :raises Retry: the stage goes to another backend, waits for one, or tries again.
    :raises PermanentError: the stage failed for good (recorded on the rows first).
    """
    ctx = worker_context()
    started = time.perf_counter()
    claimed = claim_delivery(task, ctx, run_id, generation)
    if claimed is None:
        return skipped(run_id)
    here = node_name(ctx.settings)
    try:
        work = prepare(ctx, task, run_id, claimed.owner, here, reroutes)
    except PermanentError as exc:  # nothing can run it, or an earlier stage's output vanished
        fail_stage(ctx, claimed.relay, exc)
        raise
    log.info("stage placed run_id=%s stage=%s backend=%s prepare_ms=%.0f", run_id, work.stage,
             work.backend, (time.perf_counter() - started) * 1000)
    try:
        return execute(ctx, work, claimed)
    except (ComfyInterrupted, SoftTimeLimitExceeded, PermanentError, TransientError) as exc:
        return handle_failure(ctx, task, work, claimed.relay, generation, exc)
    except Exception as exc:
        fail_unexpected(ctx, claimed.relay, exc)
        raise


def prepare(ctx: WorkerContext, task: Task, run_id: int, owner: Owner, here: str,
            reroutes: int) -> GpuWork:
    """Choose the backend (or re-attach where the prompt already went) and record it.

    :raises Retry: the stage belongs on another backend's queue, or waits for one to come online.
    :raises NoCapableBackend: no registered backend has what the workflow needs, or none that
        has it came online within NODE_WAIT_S.
    """
    with Session(ctx.engine) as session, session.begin():
        work = gpu_work(session, run_id, ctx.store)
        if work.backend and prompt_exists(ctx, work):
            return work
        run = session.get(StageRun, run_id)
        needs = requirements(bind(work.template, {**placeholders(work), **work.params},
                                  output_key=work.output_key))
        placement = place(session, run, needs, work.params.get("checkpoint"), here,
                          settle=reroutes >= MAX_REROUTES)
        if placement.kind == "wait":
            placement = waited(run, placement, ctx.settings.node_wait_s)
        if placement.kind == "here":
            work = take_here(session, run, work, here, ctx.store)
        elif placement.kind != "impossible":
            release(session, run_id, owner)
    if placement.kind == "impossible":
        raise NoCapableBackend(placement.reason)
    if placement.kind == "wait":
        log.info("waiting run_id=%s for a capable backend: %s", run_id, placement.reason)
        raise task.retry(queue=placement.queue, countdown=NODE_POLL_S)
    if placement.kind == "elsewhere":
        log.info("re-routing run_id=%s to %s", run_id, placement.queue)
        raise task.retry(queue=placement.queue, countdown=0, kwargs={"reroutes": reroutes + 1})
    return work


def take_here(session: Session, run: StageRun, work: GpuWork, here: str,
              store: LocalStore) -> GpuWork:
    """Record that this backend runs the attempt (and now holds its checkpoint)."""
    run.waiting_since = None
    run.backend = here
    run.prompt_id = work.prompt_id
    node = session.scalar(sa.select(WorkerNode).where(WorkerNode.name == here))
    if node is not None:
        node.last_checkpoint = work.params.get("checkpoint", node.last_checkpoint)
    return gpu_work(session, run.id, store)


def waited(run: StageRun, placement: Placement, limit_s: float) -> Placement:
    """Start or check the stage's wait for a capable backend; past the limit it is impossible."""
    now = utcnow()
    run.waiting_since = run.waiting_since or now
    if (now - run.waiting_since).total_seconds() < limit_s:
        return placement
    return Placement("impossible", reason=f"no capable backend online for {span(limit_s)}: "
                                          f"{placement.reason}")


def span(seconds: float) -> str:
    """A duration as people say it: '10 min', '45 s'."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def placeholders(work: GpuWork) -> dict[str, str]:
    """Stand-ins for inputs only known after upload, so requirements can be read early."""
    names = {"image": "tower/x.png", "frames_dir": "tower/x"}
    return {k: v for k, v in names.items() if k in work.template.params}


def prompt_exists(ctx: WorkerContext, work: GpuWork) -> bool:
    """Whether the attempt's prompt is still known to the backend it went to."""
    if not work.backend_url:
        return False
    try:
        return ctx.client(work.backend_url).locate(work.prompt_id) is not None
    except ComfyUnavailable:
        return False


def execute(ctx: WorkerContext, work: GpuWork, claimed: Claimed) -> dict[str, Any]:
    """Run the prompt while holding the lease, then record the outputs."""
    url = work.backend_url or ctx.settings.comfyui_url
    client = ctx.client(url)
    relay = claimed.relay
    relay.started()
    spec = StageSpec(prompt_id=work.prompt_id, client_id=ctx.client_id,
                     template=work.template, params=work.params, output_key=work.output_key,
                     inputs=work.inputs, extra_data=work.extra_data)

    def interrupt() -> None:
        client.delete_pending([work.prompt_id])
        client.interrupt(work.prompt_id)

    started = time.perf_counter()
    with LeaseKeeper(ctx.engine, work.run_id, claimed.owner, on_cancel=interrupt) as keeper:
        artifacts = run_gpu_stage(spec, client, ctx.store, on_event=relay.on_event)
    ran = time.perf_counter()
    with Session(ctx.engine) as session, session.begin():
        recorded = record_success(session, work.run_id, claimed.owner, artifacts)
    log.info("stage ran run_id=%s stage=%s run_ms=%.0f record_ms=%.0f", work.run_id, work.stage,
             (ran - started) * 1000, (time.perf_counter() - ran) * 1000)
    if not recorded or keeper.lost.is_set():
        log.warning("lease lost before recording run_id=%s; another delivery owns it",
                    work.run_id)
        raise Ignore()
    relay.finished(Status.SUCCEEDED)
    return {"stage_run_id": work.run_id, "status": "succeeded",
            "outputs": [a.key for a in artifacts]}


def handle_failure(ctx: WorkerContext, task: Task, work: GpuWork, relay: ProgressRelay,
                   generation: int, exc: BaseException) -> dict[str, Any]:
    """Record how the attempt ended: cancelled, tried again (transient, or a model this backend
    lacks) or failed (permanent).

    :raises Retry: a transient failure with attempts left, or a model another backend may have.
    :raises Ignore: the job was cancelled.
    :raises PermanentError: the stage (and job) failed.
    """
    backend = work.backend or node_name(ctx.settings)
    with Session(ctx.engine) as session, session.begin():
        run = session.get(StageRun, work.run_id, with_for_update=True)
        if run.job.cancel_requested:
            record_cancelled(session, work.run_id)
            outcome, queue = "cancelled", None
        elif isinstance(exc, ComfyModelMissing):
            # The backend listed the model but has not got it: mark it, and let routing pick a
            # backend not known to lack it (or fail, naming the model, if none is left).
            mark_model_lacking(session, backend, exc.folder, exc.model)
            outcome, queue = "again", "gpu"
        elif isinstance(exc, TransientError) and work.attempt < MAX_ATTEMPTS:
            # Same backend first; routing moves it once this backend failed the job repeatedly.
            outcome, queue = "again", f"gpu.{backend}"
        else:
            outcome, queue = "failed", None
        if outcome == "again":
            # The id, not the row: the row expires when this transaction commits.
            retry_id = next_attempt(session, work.run_id, str(exc), error_detail(exc),
                                    task.request.id).id
    if outcome == "cancelled":
        relay.finished(Status.CANCELLED)
        raise Ignore()
    if outcome == "again":
        relay.finished(Status.RETRYING)
        log.warning("stage attempt failed run_id=%s attempt=%s: %s; trying again as run_id=%s "
                    "on %s", work.run_id, work.attempt, exc, retry_id, queue)
        raise task.retry(args=(retry_id, generation), kwargs={},
                         countdown=backoff_s(work.attempt), queue=queue)
    message = failure_message(exc, work.attempt)
    fail_stage(ctx, relay, exc, message)
    raise exc if isinstance(exc, PermanentError) else PermanentError(message)


def failure_message(exc: BaseException, attempt: int) -> str:
    """What a person reads about a stage that failed for good."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return "the stage ran past its time limit"
    if isinstance(exc, TransientError):
        return f"gave up after {attempt} attempts: {exc}"
    return str(exc)
