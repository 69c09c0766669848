"""What every stage delivery does first and last: claim the stage (or pass, wait, drop), and
record a failure so a stage never stays 'running' after an error."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from celery import Task
from celery.exceptions import Ignore
from sqlalchemy.orm import Session

from shared.errors import PermanentError
from shared.models import StageRun
from tasks.context import WorkerContext
from tasks.leases import LEASE_S, MAX_DELIVERIES, Owner, Verdict, claim
from tasks.progress_relay import ProgressRelay
from tasks.recording import record_cancelled, record_failure

log = logging.getLogger(__name__)

WAIT_S = 2.0


@dataclass(frozen=True)
class Claimed:
    """A delivery that runs its stage: the lease owner and the stage's progress relay."""

    owner: Owner
    relay: ProgressRelay


class StageWornOut(PermanentError):
    """The stage killed its worker on every delivery."""

    code = "stage_worn_out"


def claim_delivery(task: Task, ctx: WorkerContext, run_id: int,
                   generation: int) -> Claimed | None:
    """The claim when this delivery runs the stage; None when the stage already succeeded and
    the chain should simply go on.

    :raises Retry: an older canvas's task still runs the stage: look again shortly.
    :raises Ignore: a duplicate delivery, a superseded canvas, a cancelled job, or a holder
        that outlived its time limit (the sweeper resumes the job once its lease expires).
    :raises StageWornOut: the stage keeps killing its worker (recorded).
    """
    owner = Owner.here(task.request.id)
    with Session(ctx.engine) as session, session.begin():
        verdict = claim(session, run_id, generation, owner)
        run = session.get(StageRun, run_id)
        relay = ProgressRelay(ctx.bus, run.job_id, run.id, run.scene_id, run.stage) \
            if run is not None else None
        if verdict is Verdict.CANCELLED:
            record_cancelled(session, run_id)
    if verdict is Verdict.RUN:
        return Claimed(owner, relay)
    if verdict is Verdict.PASS:
        return None
    if verdict is Verdict.WORN_OUT:
        exc = StageWornOut(f"the stage was delivered more than {MAX_DELIVERIES} times and its "
                           "worker died each time; giving up")
        fail_stage(ctx, relay, exc)
        raise exc
    if verdict is Verdict.WAIT:
        if task.request.retries < max_waits(task):
            raise task.retry(countdown=WAIT_S)
        log.warning("run_id=%s still held by another delivery past its time limit; dropping this "
                    "one for the sweeper", run_id)
    raise Ignore()


def max_waits(task: Task) -> int:
    """Looks a delivery takes at a stage another delivery holds: the holder ends within its own
    hard time limit, or its lease expires."""
    return math.ceil(((task.time_limit or 0) + LEASE_S) / WAIT_S)


def skipped(run_id: int) -> dict[str, Any]:
    """The result of a delivery whose stage had already succeeded."""
    return {"stage_run_id": run_id, "status": "succeeded", "skipped": True}


def fail_stage(ctx: WorkerContext, relay: ProgressRelay, exc: BaseException,
               message: str | None = None) -> None:
    """Record a failed stage (and so its job, skipping what depended on it) with the error's
    node-level facts, and tell live clients."""
    message = message or str(exc)
    detail = error_detail(exc)
    with Session(ctx.engine) as session, session.begin():
        dependents = record_failure(session, relay.run_id, message, detail)
        skipped_runs = [(r.id, r.scene_id, r.stage) for r in dependents]
    relay.failed(message, detail, skipped_runs)


def fail_unexpected(ctx: WorkerContext, relay: ProgressRelay, exc: Exception) -> None:
    """Record an unexpected error: a bug must fail the stage with its name, not leave it
    running until the lease expires and blame the worker."""
    log.exception("unexpected error in stage run_id=%s", relay.run_id)
    fail_stage(ctx, relay, exc, f"internal error: {type(exc).__name__}: {exc}")


def error_detail(exc: BaseException) -> dict[str, Any]:
    """The node-level facts of a failure, for the row and the API."""
    detail: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc),
                              "code": getattr(exc, "code", "internal_error")}
    for name in ("node_id", "node_type", "exception_type"):
        if getattr(exc, name, None):
            detail[name] = getattr(exc, name)
    if getattr(exc, "errors", None):
        detail["nodes"] = [error.describe() for error in exc.errors]
    return detail
