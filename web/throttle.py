"""Redis-backed state of the web tier: login slow-down and revoked tokens and sessions.

Failed logins are counted per (account, client address), so a stranger's wrong passwords
never slow down the account's owner at another address. Past a few free failures each
further attempt from that client must wait for a delay that doubles with every failure (up
to a cap) and is claimed atomically, so parallel guesses do not slip through together. A
client address is also slowed down on its own after many failures across accounts.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable

import redis
from flask import Flask, current_app

from shared.errors import RateLimitedError, TransientError
from shared.settings_store import get_setting
from web.redis_pools import pooled_client

log = logging.getLogger(__name__)
KEY_PREFIX = "tower:web:"


def login_key(scope: str, value: str) -> str:
    """The Redis key of one login counter (`failures`) or its wait (`gate`)."""
    return f"{KEY_PREFIX}login:{scope}:{value}"


def revoked_key(kind: str, value: str) -> str:
    """The Redis key marking an access token (`jwt`) or a session cookie (`session`) revoked."""
    return f"{KEY_PREFIX}revoked:{kind}:{value}"


def init_redis(app: Flask) -> None:
    """Attach a (lazily connecting) Redis client for the web tier's counters, on a pool of
    its own so nothing else can use up its connections."""
    settings = app.config["SETTINGS"]
    app.extensions["tower_redis"] = pooled_client(app, settings.redis_url, socket_timeout=2)


def client() -> redis.Redis:
    """The app's Redis client."""
    return current_app.extensions["tower_redis"]


def client_network(remote_addr: str) -> str:
    """The address that login failures are counted for: an IPv6 client's /64 (one host
    holds a whole /64), else the address itself."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def login_scopes(account: str, remote_addr: str) -> list[tuple[str, int]]:
    """The counters a login attempt answers to, each with its free failures."""
    network = client_network(remote_addr)
    return [
        (f"pair:{account}|{network}", get_setting("login_free_failures")),
        (f"addr:{network}", get_setting("login_addr_free_failures")),
    ]


def wait_after(failures: int, free: int) -> float:
    """Seconds between attempts after `failures` failures: none while free, then doubling."""
    if failures < free:
        return 0.0
    first = get_setting("login_first_delay_s")
    return min(get_setting("login_max_delay_s"), first * 2.0 ** min(failures - free, 32))


def admit_login(account: str, remote_addr: str) -> None:
    """Let a login attempt through, or tell a client that failed too often to wait.

    :raises RateLimitedError: (429 with Retry-After) while this client must wait.
    :raises TransientError: when Redis is unreachable.
    """
    scopes = login_scopes(account, remote_addr)
    pipe = client().pipeline()
    for scope, _ in scopes:
        pipe.get(login_key(scope, "failures"))
    counts = [int(value or 0) for value in run_pipeline(pipe)]
    for (scope, free), failures in zip(scopes, counts, strict=True):
        wait = wait_after(failures, free)
        if not wait:
            continue
        gate = login_key(scope, "gate")
        pipe = client().pipeline()
        # SET NX claims this attempt's slot: a parallel attempt finds the gate and waits.
        pipe.set(gate, b"1", nx=True, px=int(wait * 1000))
        pipe.pttl(gate)
        claimed, left_ms = run_pipeline(pipe)
        if not claimed:
            log.warning("login slowed down scope=%s failures=%s", scope.split(":")[0], failures)
            raise RateLimitedError(
                "too many failed logins from this address; wait before trying again",
                retry_after=max(1, math.ceil(max(left_ms, 0) / 1000)),
            )


def record_login_failure(account: str, remote_addr: str) -> None:
    """Count a wrong password for the account at this address (and for the address)."""
    forget_s = get_setting("login_forget_s")
    pipe = client().pipeline()
    for scope, _ in login_scopes(account, remote_addr):
        key = login_key(scope, "failures")
        pipe.incr(key)
        pipe.expire(key, forget_s)
    run_pipeline(pipe)


def forget_login_failures(account: str, remote_addr: str) -> None:
    """After a correct password this client starts afresh for the account (its address's
    count of failures across accounts stays)."""
    scope = login_scopes(account, remote_addr)[0][0]
    pipe = client().pipeline()
    pipe.delete(login_key(scope, "failures"), login_key(scope, "gate"))
    run_pipeline(pipe)


def revoke(kind: str, value: str, ttl_s: int) -> None:
    """Remember a revoked token id or session id until it would have expired anyway.

    :raises TransientError: when Redis is unreachable.
    """
    pipe = client().pipeline()
    pipe.set(revoked_key(kind, value), b"1", ex=max(1, ttl_s))
    run_pipeline(pipe)


def is_revoked(kind: str, value: str) -> bool:
    """Whether an access token id or session id was revoked.

    :raises TransientError: when Redis is unreachable (fail closed: no check, no access).
    """
    return is_revoked_reading(kind, value, lambda _: None)[0]


def is_revoked_reading(
    kind: str, value: str, reads: Callable[[redis.client.Pipeline], None]
) -> tuple[bool, list]:
    """Whether an access token id or session id was revoked, and the results of the `reads`
    queued after the check in the same round trip (a failed read as its exception).

    :raises TransientError: when Redis is unreachable or the check itself fails (fail
        closed: no check, no access).
    """
    pipe = client().pipeline(transaction=False)  # no MULTI/EXEC round trip
    pipe.exists(revoked_key(kind, value))
    reads(pipe)
    revoked, *results = run_pipeline(pipe, raise_on_error=False)
    if isinstance(revoked, Exception):
        log.error("web counters: revocation check failed: %s", revoked)
        raise TransientError("the token and rate-limit store is unavailable; retry soon")
    return bool(revoked), results


def run_pipeline(pipe: redis.client.Pipeline, *, raise_on_error: bool = True) -> list:
    """Execute a pipeline, mapping an unreachable Redis to a 503 (and, unless
    `raise_on_error` is off, a refused command too; off, it is in the results).

    :raises TransientError: when Redis does not answer.
    """
    try:
        return pipe.execute(raise_on_error=raise_on_error)
    except redis.RedisError as exc:
        log.error("web counters: redis unavailable: %s", exc)
        raise TransientError("the token and rate-limit store is unavailable; retry soon") from exc
