"""Prometheus `/metrics`: jobs, stage durations, queue depth, nodes and ComfyUI errors.

Everything is read at scrape time (Postgres and the broker are the truth), so every gunicorn
worker answers the same and nothing has to be counted in the request path. Finished stage
runs are read from running totals that each scrape first brings up to date
(shared.stage_totals), so a scrape costs the same however many runs the farm keeps. Scraping
needs an operator or admin credential (a bearer API token in Prometheus' `authorization`
config): the figures name nodes, queues and failure classes, which are not for the public.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
import sqlalchemy as sa
from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from shared.db import db
from shared.models import ComfyErrorTotal, Job, NodeStatus, StageDurationTotal, WorkerNode
from shared.models.status import JOB_STATUSES
from shared.stage_totals import DURATION_BUCKETS, fold_finishes
from web.fleet import connect_broker, count_waiting
from web.identity import STAFF, require_user

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


class TowerCollector:
    """A custom collector reading the farm's rows and the broker when Prometheus scrapes."""

    def describe(self) -> list[Metric]:
        """Nothing up front: the label values are only known at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every tower_ metric family."""
        yield collect_jobs()
        yield collect_stage_durations()
        yield collect_comfyui_errors()
        yield from collect_nodes()
        yield collect_queue_depth()


def collect_jobs() -> Metric:
    """tower_jobs{status}: how many jobs are in each status (zero included)."""
    family = GaugeMetricFamily("tower_jobs", "Jobs by status.", labels=["status"])
    counts = dict(
        db.session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all()
    )
    for status in JOB_STATUSES:
        family.add_metric([status], counts.get(status, 0))
    return family


def collect_stage_durations() -> Metric:
    """tower_stage_duration_seconds{stage,status}: run time of finished stage runs."""
    family = HistogramMetricFamily(
        "tower_stage_duration_seconds",
        "Run time of finished stage runs, started to finished.",
        labels=["stage", "status"],
    )
    totals = db.session.scalars(
        sa.select(StageDurationTotal).order_by(StageDurationTotal.stage, StageDurationTotal.status)
    )
    for total in totals:
        buckets = [(str(float(b)), n) for b, n in zip(DURATION_BUCKETS, total.buckets, strict=True)]
        family.add_metric(
            [total.stage, total.status], [*buckets, ("+Inf", total.count)], total.seconds
        )
    return family


def collect_comfyui_errors() -> Metric:
    """tower_comfyui_errors_total{class,stage}: failed GPU stage attempts by error class."""
    family = CounterMetricFamily(
        "tower_comfyui_errors",
        "Failed GPU stage attempts by ComfyUI error class.",
        labels=["class", "stage"],
    )
    totals = db.session.scalars(
        sa.select(ComfyErrorTotal).order_by(ComfyErrorTotal.error_class, ComfyErrorTotal.stage)
    )
    for total in totals:
        family.add_metric([total.error_class, total.stage], total.count)
    return family


def collect_nodes() -> Iterator[Metric]:
    """tower_nodes{status} and tower_nodes_online."""
    counts = dict(
        db.session.execute(
            sa.select(WorkerNode.status, sa.func.count()).group_by(WorkerNode.status)
        ).all()
    )
    family = GaugeMetricFamily("tower_nodes", "GPU nodes by status.", labels=["status"])
    for status in NodeStatus:
        family.add_metric([status.value], counts.get(status.value, 0))
    yield family
    yield GaugeMetricFamily(
        "tower_nodes_online",
        "GPU nodes online (not drained or offline).",
        value=counts.get(NodeStatus.ONLINE.value, 0),
    )


def collect_queue_depth() -> Metric:
    """tower_queue_depth{queue}: messages waiting in each Celery queue."""
    family = GaugeMetricFamily(
        "tower_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
    )
    try:
        lengths = count_waiting(connect_broker())
    except redis.RedisError as exc:
        # A scrape still reports the database's view when the broker is down.
        log.warning("metrics: broker unreadable: %s", exc)
        lengths = {}
    for name, length in lengths.items():
        family.add_metric([name], length)
    return family


@bp.get("/metrics")
def export_metrics() -> Response:
    """The Prometheus text exposition of every tower_ metric (operators and admins).

    :raises AuthenticationError: without credentials.
    :raises PermissionDeniedError: for other roles.
    """
    require_user(*STAFF)
    # What finished since the last fold joins the totals first; the scrape then reads those.
    fold_finishes(db.session)
    db.session.commit()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TowerCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
