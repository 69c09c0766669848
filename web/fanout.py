"""One reader per web worker process for the progress streams of every followed job.

Each live event stream used to block on its own XREAD, holding a Redis connection, so a few
hundred streams exhausted the pools. Here one thread (a greenlet under gunicorn's gevent
workers) reads all followed jobs' streams with one blocking XREAD on one connection and hands
each entry to the queues of that job's listeners. A new job is added by waking the read with
an entry on this process's own wake stream.

A listener reads the history it needs itself after subscribing, then takes entries from its
queue; it drops what it already sent by comparing stream ids, so nothing is lost or repeated.
A listener too slow to keep up is marked `overflowed` and re-reads from its last id.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

import redis

from shared.progress import ProgressEvent, decode_entry, events_key

log = logging.getLogger(__name__)

READ_COUNT = 200
QUEUE_SIZE = 1000
RETRY_S = 1.0
WAKE_TTL_S = 3600


class Listener:
    """One stream's view of a job's new entries."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.overflowed = False
        self._queue: queue.Queue[ProgressEvent] = queue.Queue(QUEUE_SIZE)

    def deliver(self, events: list[ProgressEvent]) -> None:
        """Queue new entries (reader side); a full queue marks the listener to catch up."""
        try:
            for event in events:
                self._queue.put_nowait(event)
        except queue.Full:
            self.overflowed = True

    def next(self, timeout: float) -> ProgressEvent | None:
        """The next entry, or None after `timeout` seconds without one."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def catch_up(self) -> None:
        """Forget queued entries after an overflow; the stream re-reads from its last id."""
        self.overflowed = False
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


@dataclass
class Feed:
    """A followed job: where the reader is in its stream, and who listens."""

    cursor: str
    listeners: set[Listener] = field(default_factory=set)


class Fanout:
    """The per-process reader and its listeners, keyed by job id."""

    def __init__(self, reader: redis.Redis, control: redis.Redis, *, block_ms: int) -> None:
        self._reader = reader  # used by the reader thread alone; blocks up to block_ms
        self._control = control  # pooled: start ids and wake-ups
        self._block_ms = block_ms
        self._wake_key = f"tower:web:sse:wake:{uuid.uuid4().hex}"
        self._lock = threading.Lock()
        self._feeds: dict[int, Feed] = {}
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self.pid = os.getpid()

    def subscribe(self, job_id: int) -> Listener:
        """Start hearing a job's entries appended from now on (read earlier ones yourself)."""
        listener = Listener(job_id)
        with self._lock:
            known = job_id in self._feeds
        start = None if known else self._last_id(job_id)
        with self._lock:
            feed = self._feeds.get(job_id)
            added = feed is None
            if added:
                feed = self._feeds[job_id] = Feed(cursor=start or "0-0")
            feed.listeners.add(listener)
            self._start_reader()
        if added:
            self._wake()
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        """Stop delivering to `listener`; the job is no longer read once nobody listens."""
        with self._lock:
            feed = self._feeds.get(listener.job_id)
            if feed is not None:
                feed.listeners.discard(listener)
                if not feed.listeners:
                    del self._feeds[listener.job_id]

    def listening(self) -> int:
        """How many listeners this process has (for tests and logs)."""
        with self._lock:
            return sum(len(feed.listeners) for feed in self._feeds.values())

    def _last_id(self, job_id: int) -> str | None:
        """The id of the job's newest entry (None when it has none or Redis cannot say)."""
        try:
            newest = self._control.xrevrange(events_key(job_id), count=1)
        except redis.RedisError as exc:
            log.warning("sse: cannot read where job %s's stream ends: %s", job_id, exc)
            return None
        return newest[0][0].decode() if newest else None

    def _wake(self) -> None:
        """Interrupt the blocking read so it includes a newly followed job."""
        try:
            pipe = self._control.pipeline(transaction=False)
            pipe.xadd(self._wake_key, {"wake": "1"}, maxlen=1, approximate=False)
            pipe.expire(self._wake_key, WAKE_TTL_S)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("sse: cannot wake the reader (it rereads within %s ms): %s",
                        self._block_ms, exc)  # fmt: skip

    def _start_reader(self) -> None:
        """Start the reader thread once (the caller holds the lock)."""
        self._wanted.set()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sse-fanout", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        wake_cursor = "0-0"
        while True:
            with self._lock:
                cursors = {events_key(job): feed.cursor for job, feed in self._feeds.items()}
                jobs = {events_key(job): job for job in self._feeds}
                if not cursors:
                    self._wanted.clear()
            if not cursors:
                self._wanted.wait()
                continue
            try:
                reply = self._reader.xread(
                    {self._wake_key: wake_cursor, **cursors},
                    count=READ_COUNT,
                    block=self._block_ms,
                )
            except redis.RedisError as exc:
                log.warning("sse: progress read failed (retrying): %s", exc)
                time.sleep(RETRY_S)
                continue
            for key, entries in reply or []:
                name = key.decode() if isinstance(key, bytes) else key
                if name == self._wake_key:
                    wake_cursor = entries[-1][0].decode()
                elif name in jobs:
                    self._dispatch(jobs[name], entries)

    def _dispatch(self, job_id: int, entries: list) -> None:
        events = [decode_entry(job_id, entry_id, fields or {}) for entry_id, fields in entries]
        with self._lock:
            feed = self._feeds.get(job_id)
            if feed is None:
                return
            feed.cursor = events[-1].id
            listeners = list(feed.listeners)
        for listener in listeners:
            listener.deliver(events)
