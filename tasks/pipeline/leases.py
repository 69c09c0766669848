"""Leases on stage runs: who runs a stage now, and what a (re-)delivered task must do.

A running stage holds a lease (owner, expiry) that its worker renews. A delivery either claims
the stage, passes through (already done), waits (an older canvas's task still runs it), or
drops itself (a duplicate, a superseded canvas, a finished or cancelled job).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.models import Job, StageRun, Status
from shared.models.columns import utcnow
from shared.models.status import STAGE_MOVES, checked, move
from shared.settings_store import get_setting
from tasks.pipeline.locking import NO_KEY_UPDATE

log = logging.getLogger(__name__)

MAX_DELIVERIES = 3
RENEWALS_PER_LEASE = 3  # a lease outlives two missed renewals (a Postgres blip, a busy box)


def lease_s() -> float:
    """How long a lease lasts unrenewed now (the farm setting)."""
    return get_setting("stage_lease_s")


class Verdict(Enum):
    """What a delivered stage task does."""

    RUN = "run"
    PASS = "pass"  # the stage already succeeded: let the chain go on
    WAIT = "wait"  # an older canvas's task is running it: check again shortly
    DROP = "drop"  # duplicate, superseded, or the job ended
    CANCELLED = "cancelled"
    WORN_OUT = "worn_out"  # delivered too often: its worker keeps dying


@dataclass(frozen=True)
class Owner:
    """A lease holder: this host, this process, this task message."""

    host: str
    pid: int
    task_id: str

    @classmethod
    def here(cls, task_id: str) -> Owner:
        """The owner identity of the current process for one task message."""
        return cls(socket.gethostname(), os.getpid(), task_id)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.task_id}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner written in a lease column, if well formed."""
        host, _, rest = text.partition(":")
        pid, _, task_id = rest.partition(":")
        return cls(host, int(pid), task_id) if pid.isdigit() else None

    def is_dead(self) -> bool:
        """True only when the owner is known dead (a process of this host that is gone)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def claim(session: Session, run_id: int, generation: int, owner: Owner) -> Verdict:
    """Decide what this delivery does, taking the lease when it runs. Caller commits."""
    run = session.get(StageRun, run_id, with_for_update=NO_KEY_UPDATE)
    if run is None:
        return Verdict.DROP
    job = session.get(Job, run.job_id)
    if generation < job.canvas_generation:
        return Verdict.DROP
    if job.cancel_requested or job.status == Status.CANCELLED:
        return Verdict.CANCELLED
    if run.status == Status.SUCCEEDED:
        return Verdict.PASS
    if Status(run.status).is_terminal:
        return Verdict.DROP
    if run.status == Status.RUNNING and not lease_is_free(run, owner):
        holder = Owner.parse(run.lease_owner or "")
        return Verdict.DROP if holder and holder.task_id == owner.task_id else Verdict.WAIT
    run.deliveries += 1
    if run.deliveries > MAX_DELIVERIES:
        return Verdict.WORN_OUT
    now = utcnow()
    move(run, Status.RUNNING)
    run.lease_owner = str(owner)
    run.lease_expires_at = now + timedelta(seconds=lease_s())
    run.started_at = run.started_at or now
    run.celery_task_id = owner.task_id
    if job.status == Status.QUEUED:
        move(job, Status.RUNNING)
        job.started_at = job.started_at or now
    job.current_stage = run.stage
    return Verdict.RUN


def lease_is_free(run: StageRun, owner: Owner) -> bool:
    """Whether a running stage's lease may be taken: expired, or held by a dead process."""
    if run.lease_expires_at is None or run.lease_expires_at <= utcnow():
        return True
    holder = Owner.parse(run.lease_owner or "")
    return holder is not None and holder != owner and holder.is_dead()


def holds_lease(session: Session, run_id: int, owner: Owner) -> bool:
    """Whether `owner` still holds the stage's lease (locks the row until commit)."""
    return held_run(session, run_id, owner) is not None


def held_run(session: Session, run_id: int, owner: Owner) -> StageRun | None:
    """The stage's row, locked until commit, if `owner` still holds its lease."""
    run = session.get(StageRun, run_id, with_for_update=NO_KEY_UPDATE)
    if run is None or run.lease_owner != str(owner) or run.status != Status.RUNNING:
        return None
    return run


def release(session: Session, run_id: int, owner: Owner) -> None:
    """Give a stage back to the queue (it is re-routed to another backend)."""
    session.execute(
        sa.update(StageRun)
        .where(
            StageRun.id == run_id,
            StageRun.lease_owner == str(owner),
            StageRun.status == Status.RUNNING,
        )
        .values(
            status=checked(STAGE_MOVES, Status.RUNNING, Status.QUEUED),
            lease_owner=None,
            lease_expires_at=None,
            deliveries=StageRun.deliveries - 1,
        )
    )


class LeaseKeeper:
    """Renews a lease in the background while slow work runs; notices cancel and lost leases."""

    def __init__(
        self, engine: Engine, run_id: int, owner: Owner, *, lease_s: float, on_cancel=None
    ) -> None:
        self.engine = engine
        self.lease_s = lease_s  # read by the caller: this thread has no app context
        self.renew_every_s = lease_s / RENEWALS_PER_LEASE
        self.run_id = run_id
        self.owner = owner
        self.on_cancel = on_cancel
        self.lost = threading.Event()
        self.cancelled = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{run_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.renew_every_s + 2)

    def _loop(self) -> None:
        while not self._stop.wait(self.renew_every_s):
            try:
                self.renew()
            except sa.exc.SQLAlchemyError as exc:  # Postgres blip: the lease outlives a few
                log.warning("lease renewal failed run_id=%s: %s", self.run_id, exc)

    def renew(self) -> None:
        """Push the expiry forward; record a lost lease or a cancel request."""
        expires = utcnow() + timedelta(seconds=self.lease_s)
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.update(StageRun)
                .where(StageRun.id == self.run_id, StageRun.lease_owner == str(self.owner))
                .values(lease_expires_at=expires)
                .returning(StageRun.job_id)
            ).first()
            cancel = row is not None and conn.scalar(
                sa.select(Job.cancel_requested).where(Job.id == row.job_id)
            )
        if row is None:
            log.warning("lease lost run_id=%s owner=%s", self.run_id, self.owner)
            self.lost.set()
        elif cancel and not self.cancelled.is_set():
            self.cancelled.set()
            if self.on_cancel:
                self.on_cancel()
