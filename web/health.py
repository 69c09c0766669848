"""GET /health: is each dependency of the farm answering.

Anyone may ask whether the farm is up; only staff see which dependency is down and the GPU
backends' names and addresses. The probes run at most once per TOWER_HEALTH_CACHE_S, so
callers cannot turn /health into a load on Postgres, Redis and every ComfyUI server.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import requests
import sqlalchemy as sa
from flask import current_app
from marshmallow import Schema, fields

from shared.db import db
from shared.errors import FarmError
from shared.models import NodeStatus, WorkerNode
from web.identity import current_user, is_staff
from web.openapi import PUBLIC, Blueprint

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__, description="Liveness of the farm's dependencies")


class BackendHealthSchema(Schema):
    """One ComfyUI backend's answer to /system_stats."""

    name = fields.String(required=True)
    url = fields.String(required=True)
    node_status = fields.String(required=True)
    status = fields.String(required=True)


class HealthSchema(Schema):
    """The farm's state; for staff also each dependency's and each GPU backend's."""

    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())
    backends = fields.List(fields.Nested(BackendHealthSchema))


def check_database() -> str:
    """'ok', or what went wrong reaching Postgres."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except sa.exc.SQLAlchemyError as exc:
        log.warning("health: database down: %s", exc)
        db.session.rollback()
        return "unreachable"


def check_redis(url: str) -> str:
    """'ok', or what went wrong reaching a Redis URL."""
    try:
        with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as client:
            client.ping()
        return "ok"
    except redis.RedisError as exc:
        log.warning("health: redis down: %s", exc)
        return "unreachable"


def check_comfyui(url: str, timeout: float) -> str:
    """'ok' when a ComfyUI server answers /system_stats within `timeout` seconds."""
    try:
        response = requests.get(f"{url.rstrip('/')}/system_stats", timeout=timeout)
        return "ok" if response.status_code == 200 else f"http {response.status_code}"
    except requests.RequestException as exc:
        log.warning("health: comfyui %s down: %s", url, exc)
        return "unreachable"


def check_backends(timeout: float) -> list[dict[str, str]]:
    """Every registered (not offline) backend's state, probed in parallel."""
    try:
        nodes = list(
            db.session.scalars(
                sa.select(WorkerNode)
                .where(WorkerNode.status != NodeStatus.OFFLINE.value)
                .order_by(WorkerNode.name)
            )
        )
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return []
    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(nodes))) as pool:
        states = list(pool.map(lambda n: check_comfyui(n.comfyui_url, timeout), nodes))
    return [
        {"name": n.name, "url": n.comfyui_url, "node_status": n.status, "status": s}
        for n, s in zip(nodes, states, strict=True)
    ]


class LiveSchema(Schema):
    """The process answers."""

    status = fields.String(required=True)


@bp.route("/health/live", methods=["GET"])
@bp.response(200, LiveSchema)
@bp.doc(**PUBLIC)
def live():
    """Liveness only: the process serves requests (no dependency is checked)."""
    return {"status": "ok"}


@bp.route("/health", methods=["GET"])
@bp.response(200, HealthSchema)
@bp.alt_response(503, schema=HealthSchema, description="A dependency is down")
@bp.doc(security=[{}, {"bearerAuth": []}, {"cookieAuth": []}])
def health():
    """The farm's state (for staff each dependency's and backend's); 503 when the database,
    Redis or the broker is down."""
    body, status = cached_report()
    if not caller_is_staff():
        body = {"status": body["status"]}
    return body, status


def caller_is_staff() -> bool:
    """Whether the caller is an admin or operator. Credentials that cannot be checked (bad,
    or the database or Redis is down) count as anonymous: /health still answers."""
    try:
        user = current_user()
    except (FarmError, sa.exc.SQLAlchemyError):
        db.session.rollback()
        return False
    return user is not None and is_staff(user)


class ReportCache:
    """The last health report of this process, and a lock so one probe runs at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.report: tuple[dict[str, Any], int] | None = None
        self.taken_at = 0.0


def cached_report() -> tuple[dict[str, Any], int]:
    """The latest report, probed again when older than TOWER_HEALTH_CACHE_S."""
    cache = current_app.extensions.setdefault("tower_health", ReportCache())
    max_age = float(current_app.config["TOWER_HEALTH_CACHE_S"])
    with cache.lock:
        if cache.report is None or time.monotonic() - cache.taken_at >= max_age:
            cache.report = probe_farm()
            cache.taken_at = time.monotonic()
        return cache.report


def probe_farm() -> tuple[dict[str, Any], int]:
    """Probe every dependency: the full report and its HTTP status."""
    settings = current_app.config["SETTINGS"]
    checks = {
        "database": check_database(),
        "redis": check_redis(settings.redis_url),
        "broker": check_redis(settings.broker_url),
    }
    backends = check_backends(float(current_app.config["TOWER_HEALTH_TIMEOUT_S"]))
    checks["comfyui"] = (
        "none registered"
        if not backends
        else "ok"
        if any(b["status"] == "ok" for b in backends)
        else "unreachable"
    )
    core_ok = all(checks[k] == "ok" for k in ("database", "redis", "broker"))
    healthy = core_ok and checks["comfyui"] != "unreachable"
    body = {"status": "ok" if healthy else "degraded", "checks": checks, "backends": backends}
    return body, 200 if core_ok else 503
