"""Redis-backed counters: login attempt limits and revoked access tokens."""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, current_app

from web.errors import RateLimitedError

log = logging.getLogger(__name__)
KEY_PREFIX = "tower:web:"


def login_key(scope: str, value: str, window: int) -> str:
    """The Redis key counting login attempts of one client or email in one window."""
    return f"{KEY_PREFIX}login:{scope}:{value.lower()}:{window}"


def revoked_key(jti: str) -> str:
    """The Redis key marking an access token as revoked."""
    return f"{KEY_PREFIX}revoked:{jti}"


def init_redis(app: Flask) -> None:
    """Attach a (lazily connecting) Redis client for the web tier's counters."""
    settings = app.config["SETTINGS"]
    app.extensions["tower_redis"] = redis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2
    )


def client() -> redis.Redis:
    """The app's Redis client."""
    return current_app.extensions["tower_redis"]


def count_login_attempt(remote_addr: str, email: str) -> None:
    """Count one login attempt for the client address and for the email.

    :raises RateLimitedError: when either has used up the window's attempts.
    """
    config = current_app.config
    window_s = int(config["TOWER_LOGIN_WINDOW_S"])
    window = int(time.time()) // window_s
    retry_after = window_s - int(time.time()) % window_s
    limits = (
        ("addr", remote_addr, int(config["TOWER_LOGIN_ADDR_LIMIT"])),
        ("email", email, int(config["TOWER_LOGIN_EMAIL_LIMIT"])),
    )
    pipe = client().pipeline()
    for scope, value, _ in limits:
        key = login_key(scope, value, window)
        pipe.incr(key)
        pipe.expire(key, window_s)
    counts = pipe.execute()[::2]
    for (scope, _, limit), count in zip(limits, counts, strict=True):
        if count > limit:
            log.warning("login rate limit hit scope=%s count=%s", scope, count)
            raise RateLimitedError(
                "too many login attempts; try again later", retry_after=retry_after
            )


def revoke_access_token(jti: str, ttl_s: int) -> None:
    """Remember a revoked token id until it would have expired anyway."""
    client().set(revoked_key(jti), b"1", ex=max(1, ttl_s))


def is_revoked(jti: str) -> bool:
    """Whether an access token id was revoked."""
    return bool(client().exists(revoked_key(jti)))
