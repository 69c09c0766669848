"""A farm-wide limit on LLM calls in flight: a counting semaphore in Redis.

Holders are members of a sorted set scored by when their hold lapses, so a web worker that dies
mid-call frees its slot once its deadline has passed instead of leaking it for ever.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from workers.echo.errors import LlmBusy

KEY = "tower:echo:llm-slots"
# Drop lapsed holds, then take a slot if one is free; all in one step so racing callers never
# both take the last slot.
ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""
MARGIN_S = 5.0  # a hold outlives its call's deadline by this much


def try_acquire(client: redis.Redis, token: str, *, limit: int, hold_s: float) -> bool:
    """Take one of `limit` slots for `hold_s` seconds, if one is free."""
    now = time.time()
    taken = client.eval(
        ACQUIRE, 1, KEY, now, now + hold_s, limit, token, int((hold_s + MARGIN_S) * 1000)
    )
    return bool(taken)


@contextmanager
def llm_slot(client: redis.Redis, *, limit: int, deadline: float) -> Iterator[None]:
    """Hold one farm-wide LLM slot for the block, waiting for one until `deadline` (monotonic).

    :raises LlmBusy: when no slot came free in time.
    """
    token = uuid.uuid4().hex
    pause = 0.02
    while not try_acquire(
        client, token, limit=limit, hold_s=max(0.0, deadline - time.monotonic()) + MARGIN_S
    ):
        left = deadline - time.monotonic()
        if left <= 0:
            raise LlmBusy(f"all {limit} LLM slots of the farm stayed busy until the deadline")
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.5)
    try:
        yield
    finally:
        client.zrem(KEY, token)
