"""Running totals of finished stage runs for /metrics, and the queue that feeds them.

A trigger on stage_runs queues the id of each run that ends succeeded or failed in
stage_finishes; shared.stage_totals folds the queue into the totals. A scrape then reads what
finished since the last fold instead of aggregating every run the farm ever kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.models.columns import int_pk


class StageFinish(db.Model):
    """A stage run that ended succeeded or failed and is not folded into the totals yet.

    No foreign key: a run deleted before the fold is simply not counted.
    """

    __tablename__ = "stage_finishes"

    id: Mapped[int_pk]
    run_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


class StageDurationTotal(db.Model):
    """Finished runs of one stage kind in one status: how many, their seconds in all, and how
    many took at most each bound of shared.stage_totals.DURATION_BUCKETS (cumulative)."""

    __tablename__ = "stage_duration_totals"

    stage: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    seconds: Mapped[float] = mapped_column(sa.Float, nullable=False)
    buckets: Mapped[list[int]] = mapped_column(ARRAY(sa.BigInteger), nullable=False)


class ComfyErrorTotal(db.Model):
    """Failed GPU stage attempts by ComfyUI error class and stage kind."""

    __tablename__ = "comfyui_error_totals"

    error_class: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    stage: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
