"""Redis-backed counters: login attempt limits and revoked access tokens."""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, current_app

from shared.errors import RateLimitedError, TransientError
from web.redis_pools import pooled_client

log = logging.getLogger(__name__)
KEY_PREFIX = "tower:web:"


def login_key(scope: str, value: str, window: int) -> str:
    """The Redis key counting login attempts of one client or email in one window."""
    return f"{KEY_PREFIX}login:{scope}:{value.lower()}:{window}"


def revoked_key(jti: str) -> str:
    """The Redis key marking an access token as revoked."""
    return f"{KEY_PREFIX}revoked:{jti}"


def init_redis(app: Flask) -> None:
    """Attach a (lazily connecting) Redis client for the web tier's counters, on a pool of
    its own so nothing else can use up its connections."""
    settings = app.config["SETTINGS"]
    app.extensions["tower_redis"] = pooled_client(app, settings.redis_url, socket_timeout=2)


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
    counts = run_pipeline(pipe)[::2]
    for (scope, _, limit), count in zip(limits, counts, strict=True):
        if count > limit:
            log.warning("login rate limit hit scope=%s count=%s", scope, count)
            raise RateLimitedError(
                "too many login attempts; try again later", retry_after=retry_after
            )


def forget_login_attempts(email: str) -> None:
    """After a successful login the email's attempts start again (the address's do not)."""
    window_s = int(current_app.config["TOWER_LOGIN_WINDOW_S"])
    pipe = client().pipeline()
    pipe.delete(login_key("email", email, int(time.time()) // window_s))
    run_pipeline(pipe)


def revoke_access_token(jti: str, ttl_s: int) -> None:
    """Remember a revoked token id until it would have expired anyway.

    :raises TransientError: when Redis is unreachable.
    """
    pipe = client().pipeline()
    pipe.set(revoked_key(jti), b"1", ex=max(1, ttl_s))
    run_pipeline(pipe)


def is_revoked(jti: str) -> bool:
    """Whether an access token id was revoked.

    :raises TransientError: when Redis is unreachable (fail closed: no check, no access).
    """
    pipe = client().pipeline()
    pipe.exists(revoked_key(jti))
    return bool(run_pipeline(pipe)[0])


def run_pipeline(pipe: redis.client.Pipeline) -> list:
    """Execute a pipeline, mapping an unreachable Redis to a 503.

    :raises TransientError: when Redis does not answer.
    """
    try:
        return pipe.execute()
    except redis.RedisError as exc:
        log.error("web counters: redis unavailable: %s", exc)
        raise TransientError("the token and rate-limit store is unavailable; retry soon") from exc
