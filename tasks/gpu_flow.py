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
from tasks.context import WorkerContext, worker_context
from tasks.delivery import claim_delivery, error_detail, fail_unexpected, skipped
from tasks.fleet import node_name
from tasks.leases import LeaseKeeper, Owner, release
from tasks.progress_relay import ProgressRelay
from tasks.recording import next_attempt, record_cancelled, record_failure, record_success
from tasks.routing import place
from tasks.stage_rows import GpuWork, gpu_work
from workers.comfyui import ComfyInterrupted, ComfyUnavailable
from workers.gpu_stage import StageSpec, run_gpu_stage
from workers.workflows import bind, requirements

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4


def backoff_s(attempt: int) -> float:
    """Seconds before retry number `attempt` (bounded exponential)."""
    return min(30.0, 2.0 ** (attempt - 1))


def run_gpu_delivery(task: Task, run_id: int, generation: int) -> dict[str, Any]:
    """Handle one delivery of a GPU stage task; returns a small summary for the result backend.

    :raises Ignore: this delivery has nothing to do (duplicate, superseded, cancelled).
    :raises PermanentError: the stage failed for good (recorded on the rows first).
    """
    ctx = worker_context()
    started = time.perf_counter()
    owner = claim_delivery(task, ctx, run_id, generation)
    if owner is None:
        return skipped(run_id)
    here = node_name(ctx.settings)
    try:
        work = prepare(ctx, task, run_id, owner, here)
    except PermanentError as exc:  # e.g. an earlier stage's output vanished
        with Session(ctx.engine) as session, session.begin():
            record_failure(session, run_id, exc.message, error_detail(exc))
        raise
    log.info("stage placed run_id=%s stage=%s backend=%s prepare_ms=%.0f", run_id, work.stage,
             work.backend, (time.perf_counter() - started) * 1000)
    try:
        return execute(ctx, work, owner)
    except (ComfyInterrupted, SoftTimeLimitExceeded, PermanentError, TransientError) as exc:
        return handle_failure(ctx, task, work, generation, here, exc)
    except Exception as exc:
        fail_unexpected(ctx, relay_for(ctx, work), exc)
        raise


def relay_for(ctx: WorkerContext, work: GpuWork) -> ProgressRelay:
    """The progress relay of a stage attempt."""
    return ProgressRelay(ctx.bus, work.job_id, work.run_id, work.scene_id, work.stage)


def prepare(ctx: WorkerContext, task: Task, run_id: int, owner: Owner, here: str) -> GpuWork:
    """Choose the backend (or re-attach where the prompt already went) and record it.

    :raises Retry: the stage belongs on another backend's queue.
    :raises PermanentError: no registered backend has what the workflow needs.
    """
    with Session(ctx.engine) as session, session.begin():
        work = gpu_work(session, run_id, ctx.store)
        if work.backend and prompt_exists(ctx, work):
            return work
        run = session.get(StageRun, run_id)
        needs = requirements(bind(work.template, {**placeholders(work), **work.params},
                                  output_key=work.output_key))
        placement = place(session, run, needs, work.params.get("checkpoint"), here)
        if placement.kind == "impossible":
            record_failure(session, run_id, placement.reason)
        elif placement.kind != "here":
            release(session, run_id, owner)
        else:
            run.backend = here
            run.prompt_id = work.prompt_id
            node = session.scalar(sa.select(WorkerNode).where(WorkerNode.name == here))
            work = gpu_work(session, run_id, ctx.store)
            if node is not None:
                node.last_checkpoint = work.params.get("checkpoint", node.last_checkpoint)
    if placement.kind == "impossible":
        raise PermanentError(placement.reason)
    if placement.kind != "here":
        log.info("re-routing run_id=%s to %s (%s)", run_id, placement.queue, placement.kind)
        raise task.retry(queue=placement.queue, countdown=0 if placement.node else 3,
                         max_retries=None)
    return work


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


def execute(ctx: WorkerContext, work: GpuWork, owner: Owner) -> dict[str, Any]:
    """Run the prompt while holding the lease, then record the outputs."""
    url = work.backend_url or ctx.settings.comfyui_url
    client = ctx.client(url)
    relay = relay_for(ctx, work)
    relay.started()
    spec = StageSpec(prompt_id=work.prompt_id, client_id=ctx.client_id,
                     template=work.template, params=work.params, output_key=work.output_key,
                     inputs=work.inputs, extra_data=work.extra_data)

    def interrupt() -> None:
        client.delete_pending([work.prompt_id])
        client.interrupt(work.prompt_id)

    started = time.perf_counter()
    with LeaseKeeper(ctx.engine, work.run_id, owner, on_cancel=interrupt) as keeper:
        artifacts = run_gpu_stage(spec, client, ctx.store, on_event=relay.on_event)
    ran = time.perf_counter()
    with Session(ctx.engine) as session, session.begin():
        recorded = record_success(session, work.run_id, owner, artifacts)
    log.info("stage ran run_id=%s stage=%s run_ms=%.0f record_ms=%.0f", work.run_id, work.stage,
             (ran - started) * 1000, (time.perf_counter() - ran) * 1000)
    if not recorded or keeper.lost.is_set():
        log.warning("lease lost before recording run_id=%s; another delivery owns it",
                    work.run_id)
        raise Ignore()
    relay.finished(Status.SUCCEEDED)
    return {"stage_run_id": work.run_id, "status": "succeeded",
            "outputs": [a.key for a in artifacts]}


def handle_failure(ctx: WorkerContext, task: Task, work: GpuWork, generation: int, here: str,
                   exc: BaseException) -> dict[str, Any]:
    """Record how the attempt ended: cancelled, retried (transient) or failed (permanent).

    :raises Retry: a transient failure with attempts left.
    :raises Ignore: the job was cancelled.
    :raises PermanentError: the stage (and job) failed.
    """
    relay = relay_for(ctx, work)
    with Session(ctx.engine) as session, session.begin():
        run = session.get(StageRun, work.run_id, with_for_update=True)
        if run.job.cancel_requested:
            record_cancelled(session, work.run_id)
            outcome = "cancelled"
        elif isinstance(exc, TransientError) and work.attempt < MAX_ATTEMPTS:
            retry = next_attempt(session, work.run_id, str(exc), error_detail(exc))
            outcome = "retry"
        else:
            message = str(exc) if not isinstance(exc, SoftTimeLimitExceeded) else \
                "the stage ran past its time limit"
            if isinstance(exc, TransientError):
                message = f"gave up after {work.attempt} attempts: {message}"
            record_failure(session, work.run_id, message, error_detail(exc))
            outcome = "failed"
    if outcome == "cancelled":
        relay.finished(Status.CANCELLED)
        raise Ignore()
    if outcome == "retry":
        relay.finished(Status.RETRYING)
        # Same backend first; routing moves it once this backend failed the job repeatedly.
        log.warning("transient failure run_id=%s attempt=%s: %s; retrying as run_id=%s",
                    work.run_id, work.attempt, exc, retry.id)
        raise task.retry(args=(retry.id, generation), countdown=backoff_s(work.attempt),
                         queue=f"gpu.{here}", max_retries=None)
    relay.finished(Status.FAILED)
    raise exc if isinstance(exc, PermanentError) else PermanentError(str(exc))
