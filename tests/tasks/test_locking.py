"""The farm's lock order on real Postgres: a worker's stage-then-job transaction and a job-wide
lock (cancel, retry, dispatch, a failing stage) never wait on each other in a circle, a worker
storing an output is not held up by one, and a deadlock's victim simply runs again."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import lost_connection, lost_lock_race, transaction
from shared.models import Asset, Job, StageRun
from shared.models.columns import utcnow
from tasks.pipeline.leases import Owner, holds_lease
from tasks.pipeline.locking import locked_job
from tasks.pipeline.recording import fail_held
from tasks.sweeper import requeue_expired
from tests.support.processes import wait_for

WAIT_S = 60  # for a lock wait to show, and for a blocked thread to finish, on a loaded box


def waiting_for_locks(engine) -> int:
    """How many of this database's backends wait for a row lock now."""
    with engine.connect() as connection:
        return connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, dict]:
    """Run `work` in a thread; its outcome lands in the dict ("ok" or "error")."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["ok"] = work()
        except Exception as exc:  # the test reads it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_worker_claiming_a_stage_and_a_job_wide_lock_never_deadlock(engine, job_rows):
    job_id, run_ids = job_rows
    with engine.connect() as worker:
        worker_tx = worker.begin()
        # A claim: the stage row first...
        worker.execute(sa.update(StageRun).where(StageRun.id == run_ids[1]).values(deliveries=1))
        before = waiting_for_locks(engine)
        thread, outcome = in_thread(
            lambda: transaction(engine, lambda s: locked_job(s, job_id).id, attempts=1)
        )
        wait_for(lambda: waiting_for_locks(engine) > before, WAIT_S, what="the job-wide lock")
        # ...then its job, while the job-wide lock waits for that stage row.
        worker.execute(sa.update(Job).where(Job.id == job_id).values(current_stage="animate"))
        worker_tx.commit()
    thread.join(WAIT_S)
    assert outcome == {"ok": job_id}


def test_a_failing_stage_takes_its_own_row_in_the_farms_order(engine, job_rows):
    """A job-wide lock part way through the job's rows (it holds the first) and a stage
    failing further along: the failure waits for the first row before it locks its own, so
    the job-wide lock goes on to that row without waiting (it deadlocked when the failure
    locked its own row first)."""
    job_id, (first, failing, _) = job_rows
    owner = Owner.parse("gpu-host:1:task")
    with Session(engine) as session, session.begin():
        run = session.get(StageRun, failing)
        run.status, run.lease_owner = "running", str(owner)
        run.lease_expires_at = utcnow() + timedelta(minutes=5)
    with engine.connect() as walker:
        walker_tx = walker.begin()
        walker.execute(
            sa.select(StageRun.id).where(StageRun.id == first).with_for_update(key_share=True)
        )
        before = waiting_for_locks(engine)
        thread, outcome = in_thread(
            lambda: transaction(
                engine, lambda s: len(fail_held(s, failing, owner, "out of memory")), attempts=1
            )
        )
        wait_for(lambda: waiting_for_locks(engine) > before, WAIT_S, what="the failure to wait")
        walker.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
        walker.execute(
            sa.select(StageRun.id).where(StageRun.id == failing).with_for_update(key_share=True)
        )
        walker_tx.commit()
    thread.join(WAIT_S)
    assert outcome == {"ok": 1}  # compile, which needed the failed stage, was skipped
    with Session(engine) as session:
        assert session.get(StageRun, failing).status == "failed"
        assert session.get(Job, job_id).status == "failed"


def test_a_job_wide_lock_does_not_hold_up_a_worker_storing_an_output(engine, job_rows):
    job_id, run_ids = job_rows
    with Session(engine) as holder, holder.begin():
        locked_job(holder, job_id)
        with engine.connect() as worker, worker.begin():
            # Without the lock being FOR NO KEY UPDATE this insert's KEY SHARE would wait.
            worker.execute(sa.text("SET LOCAL lock_timeout = '20s'"))
            worker.execute(
                sa.insert(Asset).values(
                    uri=f"file:///artifacts/locking-{job_id}.png",
                    kind="image",
                    job_id=job_id,
                    stage_run_id=run_ids[0],
                )
            )


def test_a_deadlocks_victim_runs_again_and_commits(engine, job_rows):
    _, run_ids = job_rows
    first, second = run_ids[0], run_ids[1]
    calls = []

    def lock_second_then_first(session: Session) -> int:
        calls.append(1)
        session.execute(sa.update(StageRun).where(StageRun.id == second).values(step=7))
        session.execute(sa.update(StageRun).where(StageRun.id == first).values(step=7))
        return len(calls)

    with engine.connect() as rival:
        rival_tx = rival.begin()
        # The rival never detects the deadlock itself: the transaction under test, which waits
        # first, is the victim.
        rival.execute(sa.text("SET LOCAL deadlock_timeout = '60s'"))
        rival.execute(sa.update(StageRun).where(StageRun.id == first).values(step=1))
        before = waiting_for_locks(engine)
        thread, outcome = in_thread(lambda: transaction(engine, lock_second_then_first))
        wait_for(lambda: waiting_for_locks(engine) > before, WAIT_S, what="the first lock wait")
        rival.execute(sa.update(StageRun).where(StageRun.id == second).values(step=1))
        rival_tx.commit()
    thread.join(WAIT_S)
    assert outcome == {"ok": 2}
    with Session(engine) as session:
        steps = session.scalars(sa.select(StageRun.step).where(StageRun.id.in_(run_ids[:2])))
        assert list(steps) == [7, 7]


def test_only_deadlocks_and_serialization_failures_count_as_a_lost_race(engine):
    with engine.connect() as connection:
        with pytest.raises(sa.exc.DBAPIError) as raised:
            connection.execute(sa.text("SELECT 1/0"))
    assert not lost_lock_race(raised.value)


def test_a_transaction_runs_again_when_postgres_drops_its_connection(engine):
    """A Postgres restart cuts every connection: the worker's transaction waits and runs
    again instead of failing its stage."""
    runs = []

    def work(session: Session) -> int:
        runs.append(session.scalar(sa.text("SELECT pg_backend_pid()")))
        if len(runs) == 1:
            with engine.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": runs[0]})
                other.commit()
        return session.scalar(sa.text("SELECT 1"))

    assert transaction(engine, work) == 1
    assert len(runs) == 2 and runs[0] != runs[1]


def test_only_a_lost_connection_counts_as_an_outage(engine):
    with engine.connect() as connection:
        with pytest.raises(sa.exc.DBAPIError) as raised:
            connection.execute(sa.text("SELECT 1/0"))
    assert not lost_connection(raised.value)


def test_an_expired_stage_on_a_cut_off_backend_runs_again_as_a_new_attempt(engine, job_rows):
    """Its prompt may still run on the node the network cut off: the re-run elsewhere is a new
    attempt, the old one, ended, cannot publish a late result, and its prompt is marked for
    its node to take off."""
    job_id, (cut, alive, _) = job_rows
    expired = utcnow() - timedelta(seconds=1)
    with Session(engine) as session, session.begin():
        for run_id, backend in ((cut, "far"), (alive, "near")):
            run = session.get(StageRun, run_id)
            run.status, run.backend, run.prompt_id = "running", backend, str(uuid.uuid4())
            run.lease_owner, run.lease_expires_at = "far:1:task", expired
    with Session(engine) as session, session.begin():
        assert requeue_expired(session, {"far"}) == {job_id}
    with Session(engine) as session:
        runs = session.scalars(sa.select(StageRun).where(StageRun.job_id == job_id)).all()
        by_stage = {(r.stage, r.attempt): r for r in runs}
        old, new = by_stage[("keyframe", 1)], by_stage[("keyframe", 2)]
        assert old.status == "failed" and "far did not answer" in old.error
        assert old.prompt_left_at is not None  # its node takes the prompt off once back
        assert new.status == "retrying" and new.prompt_id is None
        # A backend that answers keeps the attempt: it re-attaches to its prompt.
        assert by_stage[("animate", 1)].status == "queued"
        assert by_stage[("animate", 1)].prompt_left_at is None
        assert ("animate", 2) not in by_stage
        assert not holds_lease(session, cut, Owner.parse("far:1:task"))
