"""Which task messages the Redis broker still holds (queued, or delivered and unacknowledged),
and in which queue.

Used by the sweeper to tell a stage whose message was lost (Redis restarted empty) or stranded
(in a node queue nothing consumes) from one that is simply waiting its turn.
"""

from __future__ import annotations

import json
import logging

import redis

log = logging.getLogger(__name__)

QUEUE_PREFIXES = ("gpu", "cpu", "control")
UNACKED_KEY = "unacked"
# Delivered to a worker and not yet acknowledged: it has a consumer by definition.
DELIVERED = ""


def task_queues_in_broker(client: redis.Redis, key_prefix: str = "") -> dict[str, str]:
    """Task id -> queue of every message waiting in a Tower queue, and -> DELIVERED for those
    delivered but not acknowledged (`key_prefix`: the broker's global key prefix, if any)."""
    found: dict[str, str] = {}
    for prefix in QUEUE_PREFIXES:
        for key in client.scan_iter(match=f"{key_prefix}{prefix}*", count=500):
            if client.type(key) != b"list":
                continue
            queue = queue_name(key, key_prefix)
            for raw in client.lrange(key, 0, -1):
                found[_task_id(raw)] = queue
    for raw in client.hvals(f"{key_prefix}{UNACKED_KEY}"):
        try:
            found[_task_id(json.dumps(json.loads(raw)[0]))] = DELIVERED
        except (ValueError, IndexError, TypeError):
            continue
    found.pop("", None)
    return found


def queue_name(key: bytes | str, key_prefix: str) -> str:
    """The queue a broker list belongs to (kombu keeps `<queue>:<priority step>` lists)."""
    name = (key.decode() if isinstance(key, bytes) else key)[len(key_prefix) :]
    base, sep, step = name.rpartition(":")
    return base if sep and step.isdigit() else name


def _task_id(raw: bytes | str) -> str:
    try:
        message = json.loads(raw)
    except ValueError:
        return ""
    return str((message.get("headers") or {}).get("id", "")) if isinstance(message, dict) else ""
