"""The progress bus: every Redis key and event payload of live progress is built here.

A job has one capped Redis Stream of events (``stage`` and ``job``), a hash with the latest
state of each stage, and a hash with the job's latest state. Publishing is advisory: the rows
are the truth, so a publish never blocks a worker for long and never raises.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from shared.models.status import TERMINAL

log = logging.getLogger(__name__)

PREFIX = "tower:progress"
ACTIVE_KEY = f"{PREFIX}:active"
SINK_GROUP = "progress-sink"
STREAM_MAXLEN = 2000
RETENTION_S = 24 * 3600
PUBLISH_TIMEOUT_S = 0.5
# After a failed publish, skip publishing for a while so a dead Redis costs one timeout,
# not one per sampling step.
BACKOFF_S = 2.0
# Non-terminal job progress stays below 1.0: exactly 1.0 means succeeded.
RUNNING_CEILING = 0.999

# `comfy_node` is the ComfyUI graph node executing, `backend` the GPU node running the stage;
# `node` is comfy_node's older name, kept for the clients that read it.
STAGE_FIELDS = (
    "stage_id",
    "scene_id",
    "stage",
    "status",
    "progress",
    "step",
    "max",
    "node",
    "comfy_node",
    "backend",
)
# What failed stage and job events add: the message, the error code, the ComfyUI graph node.
FAILURE_FIELDS = ("error", "code", "node_id", "node_type")
JOB_FIELDS = ("status", "progress", "eta_s")
TERMINAL_STATUSES = tuple(sorted(s.value for s in TERMINAL))

# KEYS: events, job hash, active set. ARGV: data json, status, progress, eta json, origin,
# maxlen, retention, job id, terminal statuses json, running ceiling.
# Keeps job progress monotonic (except when a finished job is queued again), refuses a
# derived (sink) event once the job is terminal, and appends the event atomically.
_JOB_EVENT_LUA = """
local status = ARGV[2]
local progress = tonumber(ARGV[3])
local terminal = cjson.decode(ARGV[9])
local function is_terminal(s)
  for _, t in ipairs(terminal) do if t == s then return true end end
  return false
end
local prev_status = redis.call('HGET', KEYS[2], 'status')
local prev_progress = tonumber(redis.call('HGET', KEYS[2], 'progress') or '0') or 0
local prev_terminal = prev_status and is_terminal(prev_status)
if ARGV[5] == 'sink' and prev_terminal then return false end
if status == 'succeeded' then
  progress = 1.0
else
  if not prev_terminal and progress < prev_progress then progress = prev_progress end
  if progress > tonumber(ARGV[10]) then progress = tonumber(ARGV[10]) end
end
local data = cjson.decode(ARGV[1])
data['progress'] = progress
local body = cjson.encode(data)
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*',
                      'kind', 'job', 'origin', ARGV[5], 'data', body)
redis.call('HSET', KEYS[2], 'status', status, 'progress', tostring(progress),
           'eta_s', ARGV[4], 'id', id)
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('SADD', KEYS[3], ARGV[8])
return id
"""


_SHARED_BUSES: dict[str, ProgressBus] = {}


def events_key(job_id: int) -> str:
    """The Redis Stream of a job's progress events."""
    return f"{PREFIX}:{int(job_id)}:events"


def stages_key(job_id: int) -> str:
    """The hash of a job's latest stage states (field: stage run id)."""
    return f"{PREFIX}:{int(job_id)}:stages"


def job_key(job_id: int) -> str:
    """The hash of a job's latest job-level state (status, progress, eta_s, id)."""
    return f"{PREFIX}:{int(job_id)}:job"


def parse_events_key(key: str | bytes) -> int | None:
    """The job id in an events key, or None for any other key."""
    text = key.decode() if isinstance(key, bytes) else key
    head, _, rest = text.partition(f"{PREFIX}:")
    job, _, tail = rest.partition(":")
    if head or tail != "events" or not job.isdigit():
        return None
    return int(job)


def failure_fields(message: str, detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """The failure part of a failed event, from a stage's error and error_detail."""
    detail = detail or {}
    return {
        "error": str(message),
        "code": detail.get("code"),
        "node_id": detail.get("node_id"),
        "node_type": detail.get("node_type"),
    }


def build_stage_payload(
    *,
    stage_id: int,
    scene_id: int | None,
    stage: str,
    status: str,
    progress: float | None = None,
    step: int | None = None,
    max: int | None = None,  # noqa: A002
    node: str | None = None,
    backend: str | None = None,
    failure: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The data of a ``stage`` event, as SSE clients receive it (failed ones say why); `node`
    is the ComfyUI graph node, `backend` the GPU node."""
    comfy_node = None if node is None else str(node)
    return {
        "stage_id": int(stage_id),
        "scene_id": None if scene_id is None else int(scene_id),
        "stage": str(stage),
        "status": str(status),
        "progress": None if progress is None else round(float(progress), 6),
        "step": None if step is None else int(step),
        "max": None if max is None else int(max),
        "node": comfy_node,
        "comfy_node": comfy_node,
        "backend": None if backend is None else str(backend),
        **_failure(failure),
    }


def build_job_payload(
    *,
    status: str,
    progress: float | None = None,
    eta_s: float | None = None,
    failure: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The data of a ``job`` event, as SSE clients receive it (a failed one says why)."""
    return {
        "status": str(status),
        "progress": 0.0 if progress is None else round(float(progress), 6),
        "eta_s": None if eta_s is None else round(float(eta_s), 1),
        **_failure(failure),
    }


def _failure(failure: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: failure.get(name) for name in FAILURE_FIELDS} if failure else {}


def compare_ids(a: str, b: str) -> int:
    """-1, 0 or 1 as stream id `a` is before, equal to or after `b`."""
    ka, kb = stream_position(a), stream_position(b)
    return (ka > kb) - (ka < kb)


def stream_position(entry_id: str) -> tuple[int, int]:
    """A stream id as (ms, seq), which orders as the stream does."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def is_stream_id(value: str) -> bool:
    """Whether `value` is a well-formed Redis stream id (``ms-seq``): two parts of ASCII
    digits (str.isdigit() also passes "²", which int() refuses) each within 64 bits (Redis
    refuses larger ones)."""
    ms, sep, seq = value.partition("-")
    return bool(sep) and all(is_stream_number(part) for part in (ms, seq))


def is_stream_number(part: str) -> bool:
    """Whether `part` is one half of a stream id: an unsigned 64-bit number in ASCII digits."""
    # The length first: int() refuses texts of over 4300 digits.
    return part.isascii() and part.isdigit() and len(part) <= 20 and int(part) < 2**64


@dataclass(frozen=True)
class ProgressEvent:
    """One decoded stream entry."""

    id: str
    job_id: int
    kind: str
    data: dict[str, Any]
    origin: str

    @property
    def is_terminal_job(self) -> bool:
        """True for a job event that ends the job's stream."""
        return self.kind == "job" and self.data.get("status") in TERMINAL_STATUSES


def decode_entry(job_id: int, entry_id: str | bytes, fields: dict) -> ProgressEvent:
    """A ProgressEvent from a raw XRANGE/XREAD entry."""
    text = {as_text(k): as_text(v) for k, v in fields.items()}
    try:
        data = json.loads(text.get("data", "{}"))
    except ValueError:
        data = {}
    return ProgressEvent(
        id=as_text(entry_id),
        job_id=int(job_id),
        kind=text.get("kind", ""),
        data=data,
        origin=text.get("origin", "task"),
    )


def entry_stage(fields: dict) -> tuple[int | None, str | None]:
    """(stage id, status) a stage entry carries beside its data; (None, None) for other
    entries, for stage entries written before these fields were, and for a malformed one."""
    stage = fields.get(b"stage", fields.get("stage"))
    status = fields.get(b"status", fields.get("status"))
    try:
        return int(stage), None if status is None else as_text(status)
    except (TypeError, ValueError):
        return None, None


def queue_live_state(pipe: redis.client.Pipeline, job_id: int) -> None:
    """Queue the reads of a job's live state (see live_state_from) on a pipeline."""
    pipe.hgetall(stages_key(job_id))
    pipe.hgetall(job_key(job_id))


def live_state_from(results: list) -> tuple[dict[int, dict[str, Any]], dict[str, Any] | None]:
    """The (stage states, job state) of the reads queue_live_state queued.

    :raises ValueError: when a stored state is not JSON.
    """
    stages, job = results
    return {int(as_text(k)): json.loads(v) for k, v in stages.items()}, _job_state(job)


def as_text(value: str | bytes) -> str:
    """A Redis reply value as text (clients may or may not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value


class ProgressBus:
    """Publishes progress events and reads the latest states; publishing never raises."""

    def __init__(self, client: redis.Redis, *, maxlen: int = STREAM_MAXLEN) -> None:
        self.client = client
        self.maxlen = maxlen
        self._job_script = client.register_script(_JOB_EVENT_LUA)
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> ProgressBus:
        """A bus on its own client with short socket timeouts (connects lazily)."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=PUBLISH_TIMEOUT_S,
            socket_connect_timeout=PUBLISH_TIMEOUT_S,
            health_check_interval=30,
        )
        return cls(client, **kwargs)

    @classmethod
    def shared(cls, url: str) -> ProgressBus:
        """This process's one bus for `url`: its connections are reused from call to call
        (redis-py's pool starts afresh in a forked child)."""
        bus = _SHARED_BUSES.get(url)
        if bus is None:
            bus = _SHARED_BUSES[url] = cls.from_url(url)
        return bus

    def stage_event(
        self,
        job_id: int,
        *,
        stage_id: int,
        scene_id: int | None = None,
        stage: str,
        status: str,
        step: int | None = None,
        max: int | None = None,
        node: str | None = None,  # noqa: A002
        backend: str | None = None,
        progress: float | None = None,
        failure: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Append a stage event and record it as the stage's latest state.

        Returns the stream id, or None when Redis was unreachable (logged, not raised).
        """
        payload = build_stage_payload(
            stage_id=stage_id,
            scene_id=scene_id,
            stage=stage,
            status=status,
            progress=progress,
            step=step,
            max=max,
            node=node,
            backend=backend,
            failure=failure,
        )
        body = json.dumps(payload, separators=(",", ":"))

        def publish() -> str:
            pipe = self.client.pipeline(transaction=False)
            pipe.xadd(
                events_key(job_id),
                # The stage and its status beside the data let the sink coalesce a
                # backlog without decoding the entries a newer one replaces.
                {
                    "kind": "stage",
                    "origin": "task",
                    "data": body,
                    "stage": int(stage_id),
                    "status": str(status),
                },
                maxlen=self.maxlen,
                approximate=True,
            )
            pipe.hset(stages_key(job_id), str(int(stage_id)), body)
            pipe.expire(events_key(job_id), RETENTION_S)
            pipe.expire(stages_key(job_id), RETENTION_S)
            pipe.sadd(ACTIVE_KEY, int(job_id))
            return as_text(pipe.execute()[0])

        return self._guarded(publish, job_id, "stage")

    def job_event(
        self,
        job_id: int,
        *,
        status: str,
        progress: float | None = None,
        eta_s: float | None = None,
        origin: str = "task",
        failure: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Append a job event (progress kept monotonic, below 1.0 unless succeeded).

        ``origin="sink"`` marks events the sink derives from rows; those are dropped once
        the job is terminal. Returns the stream id, or None when not appended.
        """
        payload = build_job_payload(status=status, progress=progress, eta_s=eta_s, failure=failure)

        def publish() -> str | None:
            result = self._job_script(
                keys=[events_key(job_id), job_key(job_id), ACTIVE_KEY],
                args=[
                    json.dumps(payload),
                    payload["status"],
                    payload["progress"],
                    json.dumps(payload["eta_s"]),
                    origin,
                    self.maxlen,
                    RETENTION_S,
                    int(job_id),
                    json.dumps(TERMINAL_STATUSES),
                    RUNNING_CEILING,
                ],
            )
            return as_text(result) if result else None

        return self._guarded(publish, job_id, "job")

    def _guarded(self, publish, job_id: int, kind: str) -> str | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return publish()
        except (redis.RedisError, OSError) as exc:
            self._down_until = time.monotonic() + BACKOFF_S
            log.warning("progress publish dropped kind=%s job_id=%s error=%s", kind, job_id, exc)
            return None

    def stage_states(self, job_id: int) -> dict[int, dict[str, Any]]:
        """The latest state of each stage of a job, by stage run id.

        :raises redis.RedisError: when Redis is unreachable.
        """
        raw = self.client.hgetall(stages_key(job_id))
        return {int(as_text(k)): json.loads(v) for k, v in raw.items()}

    def job_state(self, job_id: int) -> dict[str, Any] | None:
        """The job's latest published state with its stream id, or None.

        :raises redis.RedisError: when Redis is unreachable.
        """
        return _job_state(self.client.hgetall(job_key(job_id)))

    def live_state(self, job_id: int) -> tuple[dict[int, dict[str, Any]], dict[str, Any] | None]:
        """`stage_states` and `job_state` in one round trip.

        :raises redis.RedisError: when Redis is unreachable.
        """
        pipe = self.client.pipeline(transaction=False)
        queue_live_state(pipe, job_id)
        return live_state_from(pipe.execute())

    def read_after(self, job_id: int, after_id: str, count: int = 500) -> list[ProgressEvent]:
        """Events strictly after `after_id` ("0" for all that are kept), oldest first.

        :raises redis.RedisError: when Redis is unreachable.
        """
        entries = self.client.xrange(
            events_key(job_id), f"({after_id}" if after_id != "0" else "-", "+", count=count
        )
        return [decode_entry(job_id, eid, fields) for eid, fields in entries]

    def snapshot(self, job_id: int) -> tuple[str | None, str | None, dict[str, Any] | None]:
        """(first kept id, last id, job state), read atomically.

        :raises redis.RedisError: when Redis is unreachable.
        """
        pipe = self.client.pipeline(transaction=True)
        pipe.xrange(events_key(job_id), "-", "+", count=1)
        pipe.xrevrange(events_key(job_id), "+", "-", count=1)
        pipe.hgetall(job_key(job_id))
        first, last, state = pipe.execute()
        return (
            as_text(first[0][0]) if first else None,
            as_text(last[0][0]) if last else None,
            _job_state(state),
        )


def _job_state(raw: dict) -> dict[str, Any] | None:
    if not raw:
        return None
    text = {as_text(k): as_text(v) for k, v in raw.items()}
    return {
        "status": text.get("status", "running"),
        "progress": float(text.get("progress") or 0.0),
        "eta_s": json.loads(text.get("eta_s") or "null"),
        "id": text.get("id"),
    }


# Drops a job from the active set only if `last_id` is still the newest entry (or the stream
# is gone), so a publish racing with the sink re-adds what it needs.
_RETIRE_LUA = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 or last[1][1] == ARGV[2] then
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


def retire_job(client: redis.Redis, job_id: int, last_id: str) -> bool:
    """Remove a finished (or expired) job from the active set unless newer events arrived.

    :raises redis.RedisError: when Redis is unreachable.
    """
    return bool(client.eval(_RETIRE_LUA, 2, events_key(job_id), ACTIVE_KEY, int(job_id), last_id))


def active_jobs(client: redis.Redis) -> set[int]:
    """Ids of jobs that have published since they were last retired.

    :raises redis.RedisError: when Redis is unreachable.
    """
    return {int(as_text(m)) for m in client.smembers(ACTIVE_KEY) if as_text(m).isdigit()}
