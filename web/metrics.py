"""Prometheus `/metrics`: jobs, stage durations, queue depth, nodes and ComfyUI errors.

Everything is read at scrape time (Postgres and the broker are the truth), so every gunicorn
worker answers the same and nothing has to be counted in the request path. Scraping needs an
operator or admin credential (a bearer API token in Prometheus' `authorization` config): the
figures name nodes, queues and failure classes, which are not for the public.
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
from shared.models import Job, NodeStatus, StageRun, Status, WorkerNode
from shared.models.status import JOB_STATUSES
from shared.stages import GPU_STAGE_NAMES
from web.fleet import connect_broker, count_waiting
from web.identity import STAFF, require_user

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

# Stage durations run from a second (a keyframe on a fast GPU) to tens of minutes (animate).
DURATION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
GPU_STAGES = GPU_STAGE_NAMES


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
    duration = sa.func.extract("epoch", StageRun.finished_at - StageRun.started_at)
    columns = [sa.func.count().filter(duration <= bound) for bound in DURATION_BUCKETS]
    rows = db.session.execute(
        sa.select(
            StageRun.stage,
            StageRun.status,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(duration), 0),
            *columns,
        )
        .where(
            StageRun.status.in_(("succeeded", "failed")),
            StageRun.started_at.is_not(None),
            StageRun.finished_at.is_not(None),
        )
        .group_by(StageRun.stage, StageRun.status)
        .order_by(StageRun.stage, StageRun.status)
    ).all()
    for stage, status, count, total, *within in rows:
        buckets = [(str(float(b)), n) for b, n in zip(DURATION_BUCKETS, within, strict=True)]
        family.add_metric([stage, status], [*buckets, ("+Inf", count)], float(total))
    return family


def collect_comfyui_errors() -> Metric:
    """tower_comfyui_errors_total{class,stage}: failed GPU stage attempts by error class."""
    family = CounterMetricFamily(
        "tower_comfyui_errors",
        "Failed GPU stage attempts by ComfyUI error class.",
        labels=["class", "stage"],
    )
    detail = StageRun.error_detail
    error_class = sa.func.coalesce(
        detail["exception_type"].astext, detail["type"].astext, "unknown"
    )
    rows = db.session.execute(
        sa.select(error_class, StageRun.stage, sa.func.count())
        .where(
            StageRun.stage.in_(GPU_STAGES),
            StageRun.status == Status.FAILED,
            StageRun.error_detail.is_not(None),
        )
        .group_by(error_class, StageRun.stage)
        .order_by(error_class, StageRun.stage)
    ).all()
    for name, stage, count in rows:
        family.add_metric([name, stage], count)
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
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TowerCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
