"""What every stage delivery does first and last: claim the stage (or pass, wait, drop), and
record a failure so a stage never stays 'running' after an error."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import Ignore
from sqlalchemy.orm import Session

from shared.errors import PermanentError
from shared.models import Status
from tasks.context import WorkerContext
from tasks.leases import MAX_DELIVERIES, Owner, Verdict, claim
from tasks.progress_relay import ProgressRelay
from tasks.recording import record_cancelled, record_failure

log = logging.getLogger(__name__)

WAIT_S = 2.0


def claim_delivery(task: Task, ctx: WorkerContext, run_id: int,
                   generation: int) -> Owner | None:
    """The lease owner when this delivery runs the stage; None when the stage already
    succeeded and the chain should simply go on.

    :raises Retry: an older canvas's task still runs the stage: look again shortly.
    :raises Ignore: a duplicate delivery, a superseded canvas, or a cancelled job.
    :raises PermanentError: the stage keeps killing its worker (recorded).
    """
    owner = Owner.here(task.request.id)
    with Session(ctx.engine) as session, session.begin():
        verdict = claim(session, run_id, generation, owner)
        if verdict is Verdict.CANCELLED:
            record_cancelled(session, run_id)
        elif verdict is Verdict.WORN_OUT:
            record_failure(session, run_id, f"the stage was delivered more than "
                           f"{MAX_DELIVERIES} times and its worker died each time; giving up")
    if verdict is Verdict.RUN:
        return owner
    if verdict is Verdict.PASS:
        return None
    if verdict is Verdict.WAIT:
        raise task.retry(countdown=WAIT_S, max_retries=None)
    if verdict is Verdict.WORN_OUT:
        raise PermanentError(f"stage run {run_id} keeps killing its worker")
    raise Ignore()


def skipped(run_id: int) -> dict[str, Any]:
    """The result of a delivery whose stage had already succeeded."""
    return {"stage_run_id": run_id, "status": "succeeded", "skipped": True}


def fail_stage(ctx: WorkerContext, relay: ProgressRelay, exc: BaseException,
               message: str | None = None) -> None:
    """Record a failed stage (and so its job) with the error's node-level facts."""
    with Session(ctx.engine) as session, session.begin():
        record_failure(session, relay.run_id, message or str(exc), error_detail(exc))
    relay.finished(Status.FAILED)


def fail_unexpected(ctx: WorkerContext, relay: ProgressRelay, exc: Exception) -> None:
    """Record an unexpected error: a bug must fail the stage with its name, not leave it
    running until the lease expires and blame the worker."""
    log.exception("unexpected error in stage run_id=%s", relay.run_id)
    fail_stage(ctx, relay, exc, f"internal error: {type(exc).__name__}: {exc}")


def error_detail(exc: BaseException) -> dict[str, Any]:
    """The node-level facts of a failure, for the row and the API."""
    detail: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    for name in ("node_id", "node_type", "exception_type"):
        if getattr(exc, name, None):
            detail[name] = getattr(exc, name)
    if getattr(exc, "errors", None):
        detail["nodes"] = [error.describe() for error in exc.errors]
    return detail
