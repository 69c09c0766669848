"""Live progress: a job's progress stream as Server-Sent Events, and fresh state for REST.

The web tier runs a cooperative server (gunicorn ``-k gevent``), so an idle stream is a parked
greenlet, not a thread. Streams share one Redis reader per process (`web.fanout`), hold a slot
counted per user and per job (`web.stream_slots`), and hold no database connection while idle:
they touch Postgres only to authorize, to snapshot a job whose history is gone, and once per
heartbeat to notice a job that ended without an event.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from flask import Blueprint, Response, current_app, request, stream_with_context
from sqlalchemy.exc import SQLAlchemyError

from shared.db import db
from shared.errors import ValidationError
from shared.models import Job, User
from shared.models.status import TERMINAL
from shared.progress import (
    ProgressBus,
    ProgressEvent,
    build_job_payload,
    compare_ids,
    decode_entry,
    events_key,
    is_stream_id,
    live_state_from,
)
from web.fanout import Fanout, Listener
from web.peer import Peer
from web.query_args import one_arg
from web.redis_pools import pooled_client
from web.stream_slots import StreamSlot, acquire_slot

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)

HEARTBEAT_S = 15.0
PEER_CHECK_S = 1.0  # how often an idle stream looks whether its client left
RETRY_MS = 3000
READ_COUNT = 200
FANOUT_BLOCK_MS = 5000
MIN_LEASE_S = 30.0
EXTENSION = "tower_progress"
# A job's live state: stage states by stage run id, and the job's own (None when unknown).
LiveState = tuple[dict[int, dict[str, Any]], dict[str, Any] | None]
TERMINAL_STATUSES = frozenset(s.value for s in TERMINAL)


@dataclass(frozen=True)
class LiveClients:
    """This process's progress bus (pooled, short calls) and its shared stream reader."""

    bus: ProgressBus
    fanout: Fanout


@bp.get("/api/anime/generation/<int:request_id>/events")
def stream_events(request_id: int) -> Response:
    """A job's progress as SSE (``stage`` and ``job`` events); ends after the terminal job event.

    :raises ValidationError: for a malformed Last-Event-ID.
    :raises NotFoundError: when the job is missing or not the caller's.
    :raises RateLimitedError: when the caller (or the job) has its most streams open.
    """
    last_id = request.headers.get("Last-Event-ID") or one_arg("last_event_id")
    if last_id is not None and not is_stream_id(last_id.strip()):
        raise ValidationError(
            "Last-Event-ID must be a stream id like 1700000000000-0",
            fields={"Last-Event-ID": "not a stream id"},
        )
    user = authorize_job(request_id)
    heartbeat = heartbeat_s()
    config = current_app.config
    slot = acquire_slot(
        progress_clients().bus.client,
        user_id=user.id,
        job_id=request_id,
        per_user=int(config["TOWER_SSE_STREAMS_PER_USER"]),
        per_job=int(config["TOWER_SSE_STREAMS_PER_JOB"]),
        lease_s=max(3 * heartbeat, MIN_LEASE_S),
    )
    db.session.remove()  # an idle stream must not hold a pooled connection
    peer = Peer(request.environ)
    body = stream_job(request_id, last_id.strip() if last_id else None, heartbeat, slot, peer)
    response = Response(
        stream_with_context(body),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # A body closed before it started never runs its own clean-up.
    response.call_on_close(slot.release)
    return response


def authorize_job(job_id: int) -> User:
    """The caller, if they may see the job (bearer token, session cookie, or a stream token
    for this job, which an EventSource can send).

    :raises AuthenticationError: without valid credentials.
    :raises PermissionDeniedError: for a stream token of another job.
    :raises NotFoundError: when the job is missing or not the caller's.
    """
    from web.identity import USER_KEY, require_user
    from web.jobs import visible_job
    from web.stream_tokens import QUERY_PARAMETER, user_from_stream_token

    token = one_arg(QUERY_PARAMETER)
    if token is not None:
        # Accepted on this URL only: for this request the token stands for the credentials.
        request.environ[USER_KEY] = user_from_stream_token(token, job_id)
    user = require_user()
    visible_job(user, job_id)
    return user


def heartbeat_s() -> float:
    """Seconds between keepalives of an idle stream."""
    return float(current_app.config.get("TOWER_SSE_HEARTBEAT_S", HEARTBEAT_S))


def progress_clients() -> LiveClients:
    """This process's bus and stream reader, created on first use (again after a fork)."""
    clients = current_app.extensions.get(EXTENSION)
    if clients is None or clients.fanout.pid != os.getpid():
        url = current_app.config["SETTINGS"].redis_url
        control = pooled_client(current_app, url, socket_timeout=2)
        # The reader blocks up to FANOUT_BLOCK_MS on its own single connection.
        reader = redis.Redis.from_url(
            url, socket_timeout=FANOUT_BLOCK_MS / 1000 + 10, socket_connect_timeout=2,
            health_check_interval=30, single_connection_client=True,
        )  # fmt: skip
        fanout = Fanout(reader, control, block_ms=FANOUT_BLOCK_MS)
        clients = current_app.extensions[EXTENSION] = LiveClients(ProgressBus(control), fanout)
    return clients


def format_event(entry_id: str | None, kind: str, data: dict[str, Any]) -> str:
    """One SSE message: ``id`` (when it has a stream id), ``event`` and one-line JSON ``data``."""
    head = f"id: {entry_id}\n" if entry_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def event_message(event: ProgressEvent) -> str:
    """A stage or job event of the stream as an SSE message."""
    if event.kind == "job":
        return job_message(event.job_id, event.id, event.data)
    return format_event(event.id, event.kind, event.data)


def job_message(job_id: int, entry_id: str | None, data: dict[str, Any]) -> str:
    """A job event as an SSE message; a succeeded one carries the job's outputs, as the status
    report lists them, so a client needs no other call to fetch them."""
    if data.get("status") == "succeeded":
        data = {**data, "outputs": succeeded_outputs(job_id)}
    return format_event(entry_id, "job", data)


def succeeded_outputs(job_id: int) -> list[dict[str, Any]]:
    """The job's final outputs ({asset_id, kind, url}), read without holding a connection."""
    from web.jobs import job_outputs  # web.jobs lays this module's live state over its rows

    try:
        return job_outputs(job_id)
    except SQLAlchemyError as exc:
        log.warning("sse: outputs unavailable job_id=%s: %s", job_id, exc)
        return []
    finally:
        db.session.remove()


def stream_job(
    job_id: int, last_id: str | None, heartbeat_s: float, slot: StreamSlot, peer: Peer
) -> Iterator[str]:
    """The SSE body: history after `last_id` (or a snapshot over a gap), then live events;
    the stream's slot is given back when it ends."""
    try:
        live = progress_clients()
        yield f"retry: {RETRY_MS}\n\n"
        cursor = last_id or "0-0"
        try:
            gap, snapshot_id, state = find_gap(live.bus, job_id, cursor)
        except redis.RedisError as exc:
            log.warning("sse: redis unavailable job_id=%s: %s", job_id, exc)
            gap, snapshot_id, state = True, None, None
        if gap:
            snapshot = state or row_state(job_id)
            yield job_message(job_id, snapshot_id, build_job_payload(**snapshot))
            if snapshot["status"] in TERMINAL_STATUSES:
                return
            cursor = snapshot_id or "0-0"
        listener = live.fanout.subscribe(job_id)
        try:
            yield from follow(live.bus, listener, cursor, heartbeat_s, slot, peer)
        finally:
            live.fanout.unsubscribe(listener)
    finally:
        slot.release()


def find_gap(
    bus: ProgressBus, job_id: int, cursor: str
) -> tuple[bool, str | None, dict[str, Any] | None]:
    """Whether events after `cursor` were trimmed (or never kept), and the snapshot to send.

    :raises redis.RedisError: when Redis is unreachable.
    """
    first, last, state = bus.snapshot(job_id)
    if first is None:
        return True, None, _state_payload(state)
    # Trimming (MAXLEN) does not move max-deleted-entry-id on Redis 7.0, so compare ends.
    if cursor == "0-0":
        info = bus.client.xinfo_stream(events_key(job_id))
        gap = int(info.get("entries-added", 0)) > int(info.get("length", 0))
    else:
        gap = compare_ids(first, cursor) > 0
    return gap, last, _state_payload(state)


def _state_payload(state: dict[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"status": state["status"], "progress": state["progress"], "eta_s": state["eta_s"]}


def row_state(job_id: int) -> dict[str, Any]:
    """The job row's status, progress and ETA (what Postgres says when Redis cannot)."""
    try:
        job = db.session.get(Job, job_id, populate_existing=True)
        if job is None:
            return {"status": "cancelled", "progress": 0.0, "eta_s": None}
        return {"status": job.status, "progress": job.progress, "eta_s": job.eta_s}
    finally:
        db.session.remove()


def follow(
    bus: ProgressBus,
    listener: Listener,
    cursor: str,
    heartbeat_s: float,
    slot: StreamSlot,
    peer: Peer,
) -> Iterator[str]:
    """Events after `cursor` until the terminal job event (or the client leaves), with
    comment heartbeats: the stream's history first, then what the shared reader hands over."""
    job_id = listener.job_id
    catching_up = True
    while True:
        if catching_up or listener.overflowed:
            listener.catch_up()
            cursor, ended = yield from replay(bus.client, job_id, cursor)
            if ended:
                return
            catching_up = False
        event = next_event(listener, heartbeat_s, peer)
        slot.renew_if_due()
        if event is None:
            if peer.left():
                log.info("sse: client left job_id=%s", job_id)
                return
            yield ": keepalive\n\n"
            # A job can end while Redis is down or empty: the row is the truth.
            state = row_state(job_id)
            if state["status"] in TERMINAL_STATUSES:
                yield job_message(job_id, None, build_job_payload(**state))
                return
            continue
        if compare_ids(event.id, cursor) <= 0:
            continue  # already sent from the history
        cursor = event.id
        if event.kind in ("stage", "job"):
            yield event_message(event)
        if event.is_terminal_job and not has_later(bus.client, events_key(job_id), event.id):
            return


def next_event(listener: Listener, heartbeat_s: float, peer: Peer) -> ProgressEvent | None:
    """The listener's next event within `heartbeat_s`, or None then (or as soon as the client
    has left)."""
    waited = 0.0
    while waited < heartbeat_s:
        wait = min(PEER_CHECK_S, heartbeat_s - waited)
        event = listener.next(wait)
        if event is not None or peer.left():
            return event
        waited += wait
    return None


def replay(client: redis.Redis, job_id: int, cursor: str) -> Generator[str, None, tuple[str, bool]]:
    """The stream's entries after `cursor` as SSE messages; returns the new cursor and whether
    the job ended there. A Redis failure ends the replay early (live events still come)."""
    key = events_key(job_id)
    while True:
        try:
            entries = client.xrange(key, f"({cursor}", "+", count=READ_COUNT)
        except redis.RedisError as exc:
            log.warning("sse: redis read failed job_id=%s: %s", job_id, exc)
            return cursor, False
        for entry_id, fields in entries:
            event = decode_entry(job_id, entry_id, fields or {})
            cursor = event.id
            if event.kind in ("stage", "job"):
                yield event_message(event)
            if event.is_terminal_job and not has_later(client, key, event.id):
                return cursor, True
        if len(entries) < READ_COUNT:
            return cursor, False


def has_later(reader: redis.Redis, key: str, entry_id: str) -> bool:
    """Whether the stream goes on after `entry_id` (a finished job that was retried does)."""
    try:
        return bool(reader.xrange(key, f"({entry_id}", "+", count=1))
    except redis.RedisError:
        return False


def read_live_state(job_id: int) -> LiveState:
    """A job's live stage and job state from Redis (nothing when Redis is unreachable)."""
    try:
        return progress_clients().bus.live_state(job_id)
    except (redis.RedisError, ValueError) as exc:
        log.warning("status: redis unavailable job_id=%s: %s", job_id, exc)
        return {}, None


def live_state_read(job_id: int, results: list) -> LiveState:
    """A job's live state from the results of the reads queue_live_state queued (nothing
    when one failed)."""
    if any(isinstance(result, Exception) for result in results):
        return {}, None
    try:
        return live_state_from(results)
    except ValueError as exc:
        log.warning("status: live state unreadable job_id=%s: %s", job_id, exc)
        return {}, None


def lay_live_state(report: dict[str, Any], live: LiveState) -> dict[str, Any]:
    """`report` with the live state laid over its rows that are not terminal yet."""
    fresh, job = live
    for stage in report.get("stages", []):
        state = fresh.get(stage["id"])
        if not state or stage["status"] in TERMINAL_STATUSES:
            continue
        for name in ("step", "max", "node", "comfy_node", "backend"):
            if state.get(name) is not None:
                stage[name] = state[name]
        if state.get("progress") is not None:
            stage["progress"] = state["progress"]
        if stage["status"] == "queued" and state.get("status") == "running":
            stage["status"] = "running"
    if report.get("status") not in TERMINAL_STATUSES:
        if job and job["status"] not in TERMINAL_STATUSES:
            report["progress"] = max(report.get("progress") or 0.0, job["progress"])
            report["eta_s"] = job["eta_s"]
    return report
