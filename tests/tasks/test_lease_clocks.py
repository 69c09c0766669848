"""The farm's two recovery clocks are farm settings: a claim's lease and its renewals follow
`stage_lease_s`, and the sweeper's patience with a stage that has no broker message follows
`lost_message_grace_s` (bench.chaos shortens both; operators may too)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import db
from shared.models import StageRun
from shared.models.columns import utcnow
from shared.settings_store import forget_cached, set_setting
from tasks.pipeline.leases import LeaseKeeper, Owner, claim
from tasks.sweeper import is_stale
from tests.support.processes import wait_for

WAIT_S = 60  # for a renewal thread on a loaded box


@pytest.fixture
def clocks(app):
    """Set the clocks for one test; the defaults come back afterwards."""

    def change(**values: float) -> None:
        with app.app_context():
            for name, value in values.items():
                set_setting(db.session, name, value, None)
            forget_cached()

    yield change
    with app.app_context():
        db.session.execute(sa.text("TRUNCATE farm_settings, setting_changes"))
        db.session.commit()
        forget_cached()


def test_a_claim_takes_a_lease_as_long_as_the_setting(app, engine, job_rows, clocks):
    _, (run_id, _, _) = job_rows
    clocks(stage_lease_s=4.0)
    with app.app_context(), Session(engine) as session, session.begin():
        claim(session, run_id, 0, Owner.here("task-1"))
        expires = session.get(StageRun, run_id).lease_expires_at
    assert timedelta(seconds=3) < expires - utcnow() <= timedelta(seconds=4)


def test_the_keeper_renews_a_third_of_the_way_through_the_lease(engine, job_rows):
    _, (run_id, _, _) = job_rows
    owner = Owner.here("task-2")
    with Session(engine) as session, session.begin():
        run = session.get(StageRun, run_id)
        run.status, run.lease_owner = "running", str(owner)
        run.lease_expires_at = utcnow()
    keeper = LeaseKeeper(engine, run_id, owner, lease_s=3.0)
    assert keeper.renew_every_s == pytest.approx(1.0)
    with keeper:
        wait_for_renewal(engine, run_id)
    assert not keeper.lost.is_set()


def wait_for_renewal(engine, run_id: int) -> None:
    def renewed() -> bool:
        with Session(engine) as session:
            expires = session.get(StageRun, run_id).lease_expires_at
            return expires > utcnow() + timedelta(seconds=1)

    wait_for(renewed, WAIT_S, what="the lease to be renewed")


def test_the_sweeper_waits_out_the_lost_message_grace(app, engine, job_rows, clocks):
    _, (run_id, _, _) = job_rows
    with Session(engine) as session, session.begin():
        session.get(StageRun, run_id).updated_at = utcnow() - timedelta(seconds=10)
    with app.app_context(), Session(engine) as session:
        run = session.get(StageRun, run_id)
        assert not is_stale(run, [run])  # the default grace is 15 s
        clocks(lost_message_grace_s=5.0)
        assert is_stale(run, [run])
