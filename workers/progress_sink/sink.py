"""The sink loop: read job streams through a consumer group, coalesce, write rows, then ack."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis
import sqlalchemy as sa

from shared.db import session_scope
from shared.job_progress import EtaEstimator
from shared.progress import (
    SINK_GROUP,
    ProgressBus,
    active_jobs,
    as_text,
    compare_ids,
    decode_entry,
    entry_stage,
    events_key,
    parse_events_key,
    retire_job,
    stream_position,
)
from workers.progress_sink.rows import JobRowState, JobWrite, write_progress

log = logging.getLogger(__name__)

READ_COUNT = 500
# A stream that filled a read is behind: read it again before writing (the write coalesces
# however many entries arrived), at most this many times per round.
CATCH_UP_READS = 8
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


@dataclass
class JobBuffer:
    """Entries read for one job but not yet written and acknowledged."""

    ids: list[str] = field(default_factory=list)
    stages: dict[int, dict[str, Any]] = field(default_factory=dict)
    running: bool = False
    finished: bool = False
    newest: str = "0-0"
    not_before: float = 0.0  # the end of the coalescing window opened by the last write
    retry_at: float = 0.0  # after a failed write

    @property
    def writes(self) -> bool:
        """Whether flushing it writes rows."""
        return bool(self.stages or self.running)

    def due(self, now: float) -> bool:
        """Whether to write and acknowledge it now. The window spaces a job's writes, so it
        holds back only a buffer that writes and is small: entries that write nothing (the
        sink's own job events) are acknowledged at once, and a backlog of a full read is
        written at once (one write folds all of it)."""
        if not self.ids or now < self.retry_at:
            return False
        return now >= self.not_before or not self.writes or len(self.ids) >= READ_COUNT


@dataclass
class SinkStats:
    """Counters a benchmark or an operator reads."""

    entries: int = 0
    flushes: int = 0
    row_writes: int = 0


class ProgressSink:
    """Writes coalesced progress to StageRun and Job rows; needs an app context to run."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        consumer: str,
        min_interval_s: float = 0.25,
        block_ms: int = 500,
        discover_s: float = 0.5,
        claim_idle_ms: int = 30_000,
        claim_every_s: float = 10.0,
    ) -> None:
        self.client = client
        self.bus = ProgressBus(client)
        self.consumer = consumer
        self.min_interval_s = min_interval_s
        self.block_ms = block_ms
        self.discover_s = discover_s
        self.claim_idle_ms = claim_idle_ms
        self.claim_every_s = claim_every_s
        self.stats = SinkStats()
        self.jobs: set[int] = set()
        self.buffers: dict[int, JobBuffer] = {}
        self.applied: dict[int, dict[int, str]] = {}
        self.etas: dict[int, EtaEstimator] = {}
        self.published: dict[int, tuple[float, float | None]] = {}
        self._next_discover = 0.0
        self._next_claim = 0.0
        self._recover = True

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set, surviving Redis and Postgres restarts."""
        log.info("progress sink started consumer=%s group=%s", self.consumer, SINK_GROUP)
        while not stop.is_set():
            try:
                self.run_once()
            except REDIS_ERRORS as exc:
                log.warning("progress sink: redis unavailable, retrying: %s", exc)
                self._reset()
                stop.wait(1.0)
            except redis.ResponseError as exc:
                # A command refused after a flush or a failover: start over from discovery.
                log.warning("progress sink: redis refused a command, rediscovering: %s", exc)
                self._reset()
                stop.wait(0.2)
        self.flush_due(force=True)
        log.info("progress sink stopped")

    def _reset(self) -> None:
        # Unacknowledged entries stay pending in Redis (or vanished with it): re-read them.
        self.buffers.clear()
        self.jobs.clear()
        self._recover = True
        self._next_discover = 0.0

    def run_once(self) -> None:
        """One round: discover streams, read what is new, write what is due.

        :raises redis.ConnectionError: when Redis is unreachable.
        """
        now = time.monotonic()
        if self._recover:
            self.discover()
            self.read_pending()
            self._recover = False
        elif now >= self._next_discover:
            self.discover()
        if time.monotonic() >= self._next_claim:
            self.claim_stale()
        self.read_new()
        self.flush_due()

    def discover(self) -> None:
        """Join the consumer group of every active job's stream; forget retired ones."""
        self._next_discover = time.monotonic() + self.discover_s
        active = active_jobs(self.client)
        for job_id in active - self.jobs:
            try:
                self.client.xgroup_create(events_key(job_id), SINK_GROUP, id="0")
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    retire_job(self.client, job_id, "")  # the stream expired or was flushed
                    continue
            self.jobs.add(job_id)
        for job_id in self.jobs - active:
            if not self.buffers.get(job_id, JobBuffer()).ids:
                self.jobs.discard(job_id)
                self.applied.pop(job_id, None)
                self.etas.pop(job_id, None)
                self.published.pop(job_id, None)

    def read_pending(self) -> None:
        """Re-read entries delivered to this consumer but never acknowledged (a crash)."""
        for job_id in sorted(self.jobs):
            after = "0"
            while job_id in self.jobs:
                reply = self._read_group({events_key(job_id): after})
                entries = reply[0][1] if reply else []
                if not entries:
                    break
                self.absorb(job_id, entries)
                after = entries[-1][0]

    def claim_stale(self) -> None:
        """Take over entries a dead consumer (another name) left pending for too long."""
        self._next_claim = time.monotonic() + self.claim_every_s
        for job_id in sorted(self.jobs):
            try:
                reply = self.client.xautoclaim(
                    events_key(job_id),
                    SINK_GROUP,
                    self.consumer,
                    self.claim_idle_ms,
                    start_id="0-0",
                    count=READ_COUNT,
                )
            except redis.ResponseError:
                self._recover = True
                continue
            if reply[1]:
                self.absorb(job_id, reply[1])

    def read_new(self) -> None:
        """Block briefly for new entries on every known stream."""
        if not self.jobs:
            time.sleep(self.block_ms / 1000)
            return
        streams = {events_key(j): ">" for j in sorted(self.jobs)}
        behind = self._absorb_reply(self._read_group(streams, block=self._block_ms()))
        for _ in range(CATCH_UP_READS):
            if not behind:
                break
            behind = self._absorb_reply(self._read_group({events_key(j): ">" for j in behind}))

    def _absorb_reply(self, reply: list | None) -> list[int]:
        """Absorb an XREADGROUP reply; the jobs whose read came back full (still behind)."""
        behind = []
        for key, entries in reply or []:
            job_id = parse_events_key(key)
            if job_id is not None:
                self.absorb(job_id, entries)
                if len(entries) >= READ_COUNT and job_id in self.jobs:
                    behind.append(job_id)
        return behind

    def _read_group(self, streams: dict[str, str], block: int | None = None) -> list:
        try:
            return self.client.xreadgroup(
                SINK_GROUP, self.consumer, streams, count=READ_COUNT, block=block
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                raise
            # A stream was flushed or expired under us: rebuild the set of groups.
            log.info("progress sink: consumer group missing, rediscovering")
            self._reset()
            return []

    def _block_ms(self) -> int:
        due = [max(b.not_before, b.retry_at) for b in self.buffers.values() if b.ids]
        if not due:
            return self.block_ms
        wait_ms = int((min(due) - time.monotonic()) * 1000)
        return max(1, min(self.block_ms, wait_ms))

    def absorb(self, job_id: int, entries: list) -> None:
        """Fold raw entries into the job's buffer, keeping only each stage's newest state.
        Every read (new, pending or claimed) returns its entries in stream order: walked
        newest first, only the entry that wins for each stage is decoded."""
        if not entries:
            return
        buffer = self.buffers.setdefault(job_id, JobBuffer())
        applied = self.applied.setdefault(job_id, {})
        self.stats.entries += len(entries)
        folded: set[int] = set()
        for entry_id, raw in reversed(entries):
            fields = raw or {}
            buffer.ids.append(entry_id)
            stage_id, status = entry_stage(fields)
            if stage_id in folded:  # a newer entry of this stage won already
                buffer.running |= status == "running"
                continue
            event = decode_entry(job_id, entry_id, fields)
            if event.kind == "stage" and "stage_id" in event.data:
                stage_id = int(event.data["stage_id"])
                folded.add(stage_id)
                buffer.running |= event.data.get("status") == "running"
                # A claimed entry may be older than one already applied: keep stream order.
                position = stream_position(event.id)
                if position > applied.get(stage_id, (0, 0)):
                    applied[stage_id] = position
                    buffer.stages[stage_id] = event.data
            elif event.kind == "job" and event.origin != "sink":
                buffer.running |= event.data.get("status") == "running"
                buffer.finished |= event.is_terminal_job
        newest = as_text(entries[-1][0])
        if compare_ids(newest, buffer.newest) > 0:
            buffer.newest = newest

    def flush_due(self, force: bool = False) -> None:
        """Write and acknowledge every buffer whose coalescing window has passed: the rows of
        all of them in one transaction, their acknowledgements in one round trip."""
        now = time.monotonic()
        due = [
            (job_id, buffer)
            for job_id, buffer in list(self.buffers.items())
            if buffer.ids and (force or buffer.due(now))
        ]
        if not due:
            return
        try:
            rows = self.write_rows(due)
        except sa.exc.DBAPIError as exc:
            # One job's rows may be what fails: write each alone, so the others go on.
            log.warning("progress sink: batch write failed, writing jobs one by one: %s", exc)
            rows = {}
            for job_id, buffer in due:
                try:
                    rows.update(self.write_rows([(job_id, buffer)]))
                except sa.exc.DBAPIError as one:
                    log.warning("progress sink: database write failed job_id=%s: %s", job_id, one)
                    buffer.retry_at = time.monotonic() + 1.0
            due = [(j, b) for j, b in due if j in rows]
        pipe = self.client.pipeline(transaction=False)
        for job_id, buffer in due:
            pipe.xack(events_key(job_id), SINK_GROUP, *buffer.ids)
        pipe.execute()
        for job_id, buffer in due:
            self.acknowledged(job_id, buffer, rows[job_id])

    def write_rows(self, due: list[tuple[int, JobBuffer]]) -> dict[int, JobRowState | None]:
        """Write the buffered state of the jobs in one transaction; each job's row after it
        (None when nothing was written or the row is terminal)."""
        writes = [
            JobWrite(
                job_id=job_id,
                stages=buffer.stages,
                running=buffer.running,
                eta_of=self.etas.setdefault(job_id, EtaEstimator()).observe,
            )
            for job_id, buffer in due
            if buffer.writes
        ]
        rows: dict[int, JobRowState | None] = dict.fromkeys((job_id for job_id, _ in due), None)
        if writes:
            with session_scope() as session:
                written, stage_rows = write_progress(session, writes)
            rows.update(written)
            self.stats.row_writes += stage_rows
        return rows

    def acknowledged(self, job_id: int, buffer: JobBuffer, row: JobRowState | None) -> None:
        """After a job's entries were written and acknowledged: open its next coalescing
        window, tell clients its new progress, retire a finished job's stream."""
        self.stats.flushes += 1
        # Only a write opens a new coalescing window; acknowledging our own events does not.
        self.buffers[job_id] = JobBuffer(
            not_before=time.monotonic() + self.min_interval_s
            if buffer.writes
            else buffer.not_before
        )
        if row is not None and self._changed(job_id, row.progress, row.eta_s):
            self.bus.job_event(
                job_id, status=row.status, progress=row.progress, eta_s=row.eta_s, origin="sink"
            )
        if buffer.finished:
            retire_job(self.client, job_id, buffer.newest)

    def _changed(self, job_id: int, progress: float, eta_s: float | None) -> bool:
        previous = self.published.get(job_id)
        self.published[job_id] = (progress, eta_s)
        if previous is None or abs(previous[0] - progress) >= 0.0005:
            return True
        return (previous[1] is None) != (eta_s is None) or (
            eta_s is not None and abs(previous[1] - eta_s) >= 1.0
        )
