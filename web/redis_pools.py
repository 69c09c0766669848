"""Redis clients of the web tier, each on a connection pool of an explicit size.

redis-py's default pool grows to 100 connections and then fails at once, so a burst of
requests (hundreds of event streams) used to exhaust it and fail unrelated calls such as the
token revocation check. A blocking pool caps the connections one process opens and makes a
call wait a moment for a free one instead.
"""

from __future__ import annotations

import redis
from flask import Flask


def pooled_client(app: Flask, url: str, *, socket_timeout: float) -> redis.Redis:
    """A client on a pool of `TOWER_REDIS_POOL_SIZE` connections; a call that finds none free
    waits up to `TOWER_REDIS_POOL_TIMEOUT_S`, then fails with redis' ConnectionError."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=int(app.config["TOWER_REDIS_POOL_SIZE"]),
        timeout=float(app.config["TOWER_REDIS_POOL_TIMEOUT_S"]),
        socket_timeout=socket_timeout,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)
