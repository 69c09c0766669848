"""Which task messages the Redis broker still holds (queued, or delivered and unacknowledged).

Used by the sweeper to tell a stage whose message was lost (Redis restarted empty) from one
that is simply waiting its turn.
"""

from __future__ import annotations

import json
import logging

import redis

log = logging.getLogger(__name__)

QUEUE_PREFIXES = ("gpu", "cpu", "control")
UNACKED_KEY = "unacked"


def task_ids_in_broker(client: redis.Redis, key_prefix: str = "") -> set[str]:
    """Task ids of every message waiting in a Tower queue or delivered but not acknowledged
    (`key_prefix`: the broker's global key prefix, if any)."""
    ids: set[str] = set()
    for prefix in QUEUE_PREFIXES:
        for key in client.scan_iter(match=f"{key_prefix}{prefix}*", count=500):
            if client.type(key) != b"list":
                continue
            for raw in client.lrange(key, 0, -1):
                ids.add(_task_id(raw))
    for raw in client.hvals(f"{key_prefix}{UNACKED_KEY}"):
        try:
            ids.add(_task_id(json.dumps(json.loads(raw)[0])))
        except (ValueError, IndexError, TypeError):
            continue
    ids.discard("")
    return ids


def _task_id(raw: bytes | str) -> str:
    try:
        message = json.loads(raw)
    except ValueError:
        return ""
    return str((message.get("headers") or {}).get("id", "")) if isinstance(message, dict) else ""
