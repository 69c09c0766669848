"""The beat's fold task adds what finished to /metrics' totals when nothing scrapes: a real
worker on the control queue drains the queue of finished runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import db
from shared.models import StageDurationTotal, StageFinish
from tests import factories
from tests.support.processes import start_celery_worker

DEADLINE_S = 120  # a loaded machine starts a worker and runs one task well within this


def queued(engine, run_id: int) -> bool:
    with Session(engine) as session:
        return bool(session.scalar(sa.select(sa.func.count()).where(StageFinish.run_id == run_id)))


def mix_total(engine) -> int:
    with Session(engine) as session:
        total = session.get(StageDurationTotal, ("mix", "succeeded"))
        return total.count if total else 0


def test_the_fold_task_drains_the_queue_into_the_totals(settings, app, celery_app, log_dir):
    with app.app_context():
        engine = db.engine
    counted = mix_total(engine)
    with Session(engine) as session, session.begin():
        start = datetime.now(UTC) - timedelta(minutes=5)
        run = factories.make_stage_run(
            session, stage="mix", status="succeeded", started_at=start,
            finished_at=start + timedelta(seconds=4),
        )  # fmt: skip
        run_id = run.id
    assert queued(engine, run_id)
    worker = start_celery_worker(settings.as_environ(), log_dir, queues="control", name="fold")
    try:
        celery_app.send_task("tower.fold_stage_finishes", queue="control")
        deadline = time.monotonic() + DEADLINE_S
        while queued(engine, run_id) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not queued(engine, run_id), worker.log_text()
    finally:
        worker.stop()
    assert mix_total(engine) >= counted + 1
