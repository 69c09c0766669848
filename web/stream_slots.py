"""Slots of live event streams: how many one user, and one job, may have open at once.

Counted in Redis so the cap holds across every web worker process: each open stream holds a
lease (a member of a sorted set per user and per job, scored by its expiry) that the stream
renews while it lives and drops when it ends; a lease whose process died expires by itself.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

import redis

from shared.errors import RateLimitedError, TransientError

log = logging.getLogger(__name__)

KEY_PREFIX = "tower:web:sse:"
# KEYS: user set, job set. ARGV: member, user cap, job cap, lease seconds.
# Redis' own clock scores the leases, so web hosts need not agree on the time.
_ACQUIRE_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
for i = 1, 2 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', t) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], t + tonumber(ARGV[4]), ARGV[1])
  redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(ARGV[4])) * 2)
end
return 0
"""
# KEYS: user set, job set. ARGV: member, lease seconds. Extends a lease still held.
_RENEW_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], 'XX', t + tonumber(ARGV[2]), ARGV[1])
  redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2])) * 2)
end
return 0
"""


def user_key(user_id: int) -> str:
    """The sorted set of a user's open streams."""
    return f"{KEY_PREFIX}user:{int(user_id)}"


def job_key(job_id: int) -> str:
    """The sorted set of a job's open streams."""
    return f"{KEY_PREFIX}job:{int(job_id)}"


@dataclass
class StreamSlot:
    """One open stream's lease; renew it at least every `lease_s / 2`, release it at the end."""

    client: redis.Redis
    keys: tuple[str, str]
    lease_s: float
    member: str = field(default_factory=lambda: uuid.uuid4().hex)
    renewed_at: float = field(default_factory=time.monotonic)
    released: bool = False

    def renew_if_due(self) -> None:
        """Extend the lease when a third of it has passed (a failed renewal is only logged:
        the lease then runs out and frees the slot)."""
        if time.monotonic() - self.renewed_at < self.lease_s / 3:
            return
        try:
            self.client.eval(_RENEW_LUA, 2, *self.keys, self.member, self.lease_s)
            self.renewed_at = time.monotonic()
        except redis.RedisError as exc:
            log.warning("sse: stream lease not renewed: %s", exc)

    def release(self) -> None:
        """Give the slot back, once: the stream's end and its response's close both call this
        (a failure leaves the lease to expire)."""
        if self.released:
            return
        self.released = True
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in self.keys:
                pipe.zrem(key, self.member)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("sse: stream lease not released (it expires): %s", exc)


def acquire_slot(
    client: redis.Redis, *, user_id: int, job_id: int, per_user: int, per_job: int,
    lease_s: float,
) -> StreamSlot:  # fmt: skip
    """A slot for one more stream of this user on this job.

    :raises RateLimitedError: when the user or the job already has its most streams open.
    :raises TransientError: when Redis cannot count them.
    """
    slot = StreamSlot(client, (user_key(user_id), job_key(job_id)), lease_s)
    try:
        refused = client.eval(_ACQUIRE_LUA, 2, *slot.keys, slot.member, per_user, per_job, lease_s)
    except redis.RedisError as exc:
        log.error("sse: stream slots unavailable: %s", exc)
        raise TransientError("the live progress service is unavailable; retry soon") from exc
    if refused == 1:
        log.warning("sse: stream cap per user reached user_id=%s cap=%s", user_id, per_user)
        raise RateLimitedError(
            f"you already have {per_user} live event streams open, the most at once; "
            "close one (or poll the status) and try again",
            retry_after=int(lease_s),
        )
    if refused == 2:
        log.warning("sse: stream cap per job reached job_id=%s cap=%s", job_id, per_job)
        raise RateLimitedError(
            f"job {job_id} already has {per_job} live event streams open, the most at once",
            retry_after=int(lease_s),
        )
    return slot
