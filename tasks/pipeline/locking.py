"""The farm's one lock order for a job's rows: its stage rows in id order, then the job row.

Workers touch one stage row and then its job (claiming a stage moves the job to running);
whatever changes several of a job's rows (cancel, retry, dispatch, a stage failing and skipping
its dependants) first locks them all in this order, so no two transactions ever wait on each
other in a circle. FOR NO KEY UPDATE, as a plain UPDATE takes: a worker inserting an asset or
a stage row (which takes KEY SHARE on the rows it references) is not held up.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.models import Job, StageRun

# session.get(..., with_for_update=NO_KEY_UPDATE): one row locked the way an UPDATE locks it.
NO_KEY_UPDATE = {"key_share": True}


def lock_job(session: Session, job_id: int) -> None:
    """Lock the job's stage rows, then the job row, until the transaction ends."""
    session.execute(
        sa.select(StageRun.id)
        .where(StageRun.job_id == job_id)
        .order_by(StageRun.id)
        .with_for_update(key_share=True)
    )
    session.execute(sa.select(Job.id).where(Job.id == job_id).with_for_update(key_share=True))


def locked_job(session: Session, job_id: int) -> Job | None:
    """The job, read afresh with its stage rows as they are locked (see lock_job): the same
    locks in the same order, taken by the reads themselves."""
    session.scalars(
        sa.select(StageRun)
        .where(StageRun.job_id == job_id)
        .order_by(StageRun.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).all()
    return session.scalars(
        sa.select(Job)
        .where(Job.id == job_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).first()
