"""One base for a stage delivery's life: claim, prepare, run under a lease, record success or
failure, try again with backoff, release.

A Celery message of a stage task is one delivery. GPU and CPU stages differ only in how they
prepare (place on a backend; read the scene clips), what they run, and where a failed attempt
may be tried again; everything else is here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from shared.db import transaction
from shared.errors import FarmError, PermanentError, TransientError, brief
from shared.models import StageRun, Status
from tasks.context import WorkerContext, worker_context
from tasks.labels import carried
from tasks.pipeline.leases import (
    MAX_DELIVERIES,
    LeaseKeeper,
    Owner,
    Verdict,
    claim,
    holds_lease,
    lease_s,
)
from tasks.pipeline.locking import NO_KEY_UPDATE
from tasks.pipeline.recording import fail_held, next_attempt, record_cancelled, record_success
from tasks.progress_relay import ProgressRelay
from workers.gpu_stage import Artifact

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
# Between looks at a stage another delivery holds.
WAIT_S = 2.0
# What a stage's run may raise that ends its attempt (anything else is a bug).
ENDINGS = (FarmError, SoftTimeLimitExceeded, OSError)

W = TypeVar("W")


@dataclass(frozen=True)
class Claimed:
    """A delivery that runs its stage: the lease owner, the attempt, its progress relay, and
    what `Delivery.settle` decided in the claim's transaction."""

    owner: Owner
    attempt: int
    relay: ProgressRelay
    settled: Any = None


class LeaseLost(Exception):
    """This delivery no longer holds its stage: it must record nothing."""


class StageWornOut(PermanentError):
    """The stage killed its worker on every delivery."""

    code = "stage_worn_out"


def backoff_s(attempt: int) -> float:
    """Seconds before retry number `attempt` (bounded exponential)."""
    return min(30.0, 2.0 ** (attempt - 1))


class Delivery(Generic[W]):
    """One delivery of a stage task, from claim to outcome. Subclasses say how to prepare the
    work (W), run it, and where a failed attempt may be tried again."""

    def __init__(self, task: Task, run_id: int, generation: int) -> None:
        self.task = task
        self.run_id = run_id
        self.generation = generation
        self.ctx: WorkerContext = worker_context()

    def settle(self, session: Session, claimed: Claimed) -> Any:
        """In the claim's transaction, once this delivery runs the stage: what `prepare` needs
        from the locked rows, read (and written) without a transaction of its own."""
        return None

    def prepare(self, claimed: Claimed) -> W:
        """Read what the run needs from the rows (and place it, for GPU work).

        :raises FarmError: the stage cannot run (recorded as its failure).
        :raises Retry: the stage belongs elsewhere, or waits.
        """
        raise NotImplementedError

    def execute(self, work: W, claimed: Claimed) -> list[Artifact]:
        """Run the stage (slow; no database session open) and return its outputs."""
        raise NotImplementedError

    def interrupter(self, work: W) -> Callable[[], None] | None:
        """What stops the running work when its job is cancelled, if anything can."""
        return None

    def withdraw(self, work: W, exc: BaseException) -> None:
        """After a failed attempt this delivery still held: stop what the attempt left running
        elsewhere, if anything can be (best effort; never raises)."""

    def hand_on(self, session: Session, work: W) -> None:
        """After a recorded success, in its transaction: adjust where the chain's next stage
        is sent, if this kind of stage knows better than the canvas did."""

    def retry_queue(
        self, session: Session, work: W, claimed: Claimed, exc: BaseException
    ) -> str | None:
        """The queue on which a failed attempt is tried again, or None when it fails for good."""
        if isinstance(exc, TransientError) and claimed.attempt < MAX_ATTEMPTS:
            return self.task.queue
        return None

    def run(self) -> dict[str, Any]:
        """Handle the delivery; a small summary for the result backend.

        :raises Ignore: nothing to do (duplicate, superseded, cancelled, lease lost).
        :raises Retry: tried again later, elsewhere, or waiting.
        :raises PermanentError: the stage failed for good (recorded on the rows first).
        """
        claimed = self.claim()
        if claimed is None:
            return {"stage_run_id": self.run_id, "status": "succeeded", "skipped": True}
        try:
            work = self.prepare(claimed)
        except FarmError as exc:  # nothing can run it, or an earlier stage's output vanished
            self.fail(claimed, exc)
            raise exc if isinstance(exc, PermanentError) else PermanentError(str(exc)) from exc
        claimed.relay.started()
        try:
            with LeaseKeeper(
                self.ctx.engine,
                self.run_id,
                claimed.owner,
                lease_s=lease_s(),
                on_cancel=self.interrupter(work),
            ) as keeper:
                artifacts = self.execute(work, claimed)
        except ENDINGS as exc:
            return self.handle_failure(work, claimed, exc)
        except Exception as exc:
            self.fail_unexpected(claimed, exc)
            raise
        return self.record(work, claimed, artifacts, lost=keeper.lost.is_set())

    def claim(self) -> Claimed | None:
        """The claim when this delivery runs the stage; None when it already succeeded and the
        chain should simply go on.

        :raises Retry: an older canvas's task still runs the stage: look again shortly.
        :raises Ignore: a duplicate, a superseded canvas, a cancelled job, or a holder that
            outlived its time limit (the sweeper resumes the job once its lease expires).
        :raises StageWornOut: the stage keeps killing its worker (recorded).
        """
        owner = Owner.here(self.task.request.id)

        def decide(session: Session) -> tuple[Verdict, Claimed | None]:
            verdict = claim(session, self.run_id, self.generation, owner)
            run = session.get(StageRun, self.run_id)
            if verdict is Verdict.CANCELLED:
                record_cancelled(session, self.run_id)
            if run is None:
                return verdict, None
            relay = ProgressRelay(self.ctx.bus, run.job_id, run.id, run.scene_id, run.stage)
            claimed = Claimed(owner, run.attempt, relay)
            if verdict is Verdict.RUN:
                claimed = replace(claimed, settled=self.settle(session, claimed))
            return verdict, claimed

        verdict, claimed = transaction(self.ctx.engine, decide)
        if verdict is Verdict.RUN:
            return claimed
        if verdict is Verdict.PASS:
            return None
        if verdict is Verdict.WORN_OUT:
            exc = StageWornOut(
                f"the stage was delivered more than {MAX_DELIVERIES} times and "
                "its worker died each time; giving up"
            )
            self.fail(claimed, exc, holding=False)
            raise exc
        if verdict is Verdict.WAIT:
            if self.task.request.retries < self.max_waits():
                raise self.task.retry(countdown=WAIT_S)
            log.warning(
                "run_id=%s still held by another delivery past its time limit; dropping "
                "this one for the sweeper",
                self.run_id,
            )
        raise Ignore()

    def max_waits(self) -> int:
        """Looks a delivery takes at a stage another delivery holds: the holder ends within its
        own hard time limit, or its lease expires."""
        hard = (self.task.request.timelimit or (None, None))[0] or self.task.time_limit or 0
        return math.ceil((hard + lease_s()) / WAIT_S)

    def record(
        self, work: W, claimed: Claimed, artifacts: list[Artifact], *, lost: bool
    ) -> dict[str, Any]:
        """Store the outputs and end the stage, if this delivery still holds it.

        :raises Ignore: the lease was lost: another delivery owns the stage now.
        """

        def store(session: Session) -> bool:
            if not record_success(session, self.run_id, claimed.owner, artifacts):
                return False
            self.hand_on(session, work)
            return True

        try:
            recorded = transaction(self.ctx.engine, store)
        except Exception as exc:
            self.fail_unexpected(claimed, exc)
            raise
        if not recorded or lost:
            log.warning(
                "lease lost before recording run_id=%s; another delivery owns it", self.run_id
            )
            raise Ignore()
        claimed.relay.finished(Status.SUCCEEDED)
        return {
            "stage_run_id": self.run_id,
            "status": "succeeded",
            "outputs": [a.key for a in artifacts],
        }

    def handle_failure(self, work: W, claimed: Claimed, exc: BaseException) -> dict[str, Any]:
        """Record how the attempt ended: cancelled, tried again, or failed for good.

        :raises Retry: the next attempt is on its way.
        :raises Ignore: the job was cancelled.
        :raises PermanentError: the stage (and job) failed.
        """

        def decide(session: Session) -> tuple[bool, str | None, int | None]:
            run = session.get(StageRun, self.run_id, with_for_update=NO_KEY_UPDATE)
            if run.job.cancel_requested:
                record_cancelled(session, self.run_id)
                return True, None, None
            if not holds_lease(session, self.run_id, claimed.owner):
                raise LeaseLost()
            queue = self.retry_queue(session, work, claimed, exc)
            if queue is None:
                return False, None, None
            # The id, not the row: the row expires when this transaction commits.
            retry = next_attempt(
                session, self.run_id, brief(str(exc)), error_detail(exc), self.task.request.id
            )
            return False, queue, retry.id

        try:
            cancelled, queue, retry_id = transaction(self.ctx.engine, decide)
        except LeaseLost:
            log.warning("lease lost before the attempt ended run_id=%s: %s", self.run_id, exc)
            raise Ignore() from None
        if cancelled:
            claimed.relay.finished(Status.CANCELLED)
            raise Ignore()
        self.withdraw(work, exc)
        if queue:
            claimed.relay.finished(Status.RETRYING)
            log.warning(
                "stage attempt failed run_id=%s attempt=%s: %s; trying again as run_id=%s on %s",
                self.run_id,
                claimed.attempt,
                exc,
                retry_id,
                queue,
            )
            raise self.task.retry(
                args=(retry_id, self.generation),
                kwargs=carried(self.task.request.kwargs, queue),
                countdown=backoff_s(claimed.attempt),
                queue=queue,
            )
        message = failure_message(exc, claimed.attempt)
        self.fail(claimed, exc, message)
        raise exc if isinstance(exc, PermanentError) else PermanentError(message)

    def fail(
        self,
        claimed: Claimed,
        exc: BaseException,
        message: str | None = None,
        *,
        holding: bool = True,
    ) -> None:
        """Record a failed stage (and so its job, skipping what depended on it) with the
        error's node-level facts, and tell live clients. A delivery `holding` the stage's
        lease records nothing once it lost it: the stage is another delivery's now (after a
        partition longer than the lease, say), and failing it would fail that one's work.

        :raises Ignore: the lease was lost.
        """
        message = brief(message or str(exc))
        detail = error_detail(exc)

        def record(session: Session) -> list[tuple[int, int | None, str]]:
            owner = claimed.owner if holding else None
            skipped = fail_held(session, self.run_id, owner, message, detail)
            if skipped is None:
                raise LeaseLost()
            return [(r.id, r.scene_id, r.stage) for r in skipped]

        try:
            skipped = transaction(self.ctx.engine, record)
        except LeaseLost:
            log.warning("lease lost before recording a failure run_id=%s: %s", self.run_id, exc)
            raise Ignore() from None
        claimed.relay.failed(message, detail, skipped)

    def fail_unexpected(self, claimed: Claimed, exc: Exception) -> None:
        """A bug fails the stage with its name, instead of leaving it running until the lease
        expires and blaming the worker."""
        log.exception("unexpected error in stage run_id=%s", self.run_id)
        self.fail(claimed, exc, f"internal error: {type(exc).__name__}: {exc}")


def failure_message(exc: BaseException, attempt: int) -> str:
    """What a person reads about a stage that failed for good."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return "the stage ran past its time limit"
    if isinstance(exc, TransientError):
        return f"gave up after {attempt} attempts: {exc}"
    return str(exc)


def error_code(exc: BaseException) -> str:
    """The code a client can act on: Tower's own, else what kind of ending it was."""
    if isinstance(exc, FarmError):
        return exc.code
    if isinstance(exc, SoftTimeLimitExceeded):
        return "time_limit"
    return "os_error" if isinstance(exc, OSError) else "internal_error"


def error_detail(exc: BaseException) -> dict[str, Any]:
    """The node-level facts of a failure, for the row and the API."""
    detail: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": brief(str(exc)),
        "code": error_code(exc),
    }
    for name in ("node_id", "node_type", "exception_type"):
        if getattr(exc, name, None):
            detail[name] = getattr(exc, name)
    if getattr(exc, "errors", None):
        detail["nodes"] = [error.describe() for error in exc.errors]
    return detail
