"""GET /health: is each dependency of the farm answering."""

from __future__ import annotations

import logging

import redis
import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from shared.db import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def check_database() -> str:
    """'ok', or what went wrong reaching Postgres."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except sa.exc.SQLAlchemyError as exc:
        log.warning("health: database down: %s", exc)
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


@bp.get("/health")
def health():
    """Each dependency's state; 503 when any is down."""
    settings = current_app.config["SETTINGS"]
    checks = {
        "database": check_database(),
        "redis": check_redis(settings.redis_url),
        "broker": check_redis(settings.broker_url),
    }
    healthy = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if healthy else "degraded", "checks": checks}), (
        200 if healthy else 503
    )
