"""The progress bus against a real Redis: publish, read back, caps, and never blocking."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from shared.progress import (
    ACTIVE_KEY,
    JOB_FIELDS,
    STAGE_FIELDS,
    ProgressBus,
    active_jobs,
    entry_stage,
    events_key,
    parse_events_key,
    retire_job,
)
from tests.workers.progress_sink.harness import flushed_client, progress_settings


@pytest.fixture
def client(settings) -> Iterator[redis.Redis]:
    """A real client of the progress tests' own Redis database, emptied."""
    conn = flushed_client(progress_settings(settings))
    yield conn
    conn.close()


@pytest.fixture
def bus(client) -> ProgressBus:
    return ProgressBus(client)


def test_stage_event_appends_the_sse_payload_and_keeps_the_latest_state(bus, client):
    first = bus.stage_event(
        7,
        stage_id=70,
        scene_id=3,
        stage="animate",
        status="running",
        step=3,
        max=20,
        node="30",
        progress=0.15,
    )
    second = bus.stage_event(
        7,
        stage_id=70,
        scene_id=3,
        stage="animate",
        status="running",
        step=4,
        max=20,
        node="30",
        progress=0.2,
    )
    bus.stage_event(7, stage_id=71, scene_id=4, stage="keyframe", status="queued")

    assert first and second and first < second
    events = bus.read_after(7, "0")
    assert [e.kind for e in events] == ["stage", "stage", "stage"]
    assert set(events[0].data) == set(STAGE_FIELDS)
    assert events[0].data == {
        "stage_id": 70,
        "scene_id": 3,
        "stage": "animate",
        "status": "running",
        "progress": 0.15,
        "step": 3,
        "max": 20,
        "node": "30",
        "comfy_node": "30",
        "backend": None,
    }
    assert bus.read_after(7, first)[0].id == second
    states = bus.stage_states(7)
    assert states[70]["step"] == 4 and states[71]["status"] == "queued"
    assert active_jobs(client) == {7}
    assert client.ttl(events_key(7)) > 0


def test_job_progress_is_monotonic_and_one_only_at_success(bus):
    bus.job_event(5, status="running", progress=0.5, eta_s=30)
    bus.job_event(5, status="running", progress=0.3, eta_s=20)
    bus.job_event(5, status="running", progress=1.0)
    assert bus.job_state(5)["progress"] == pytest.approx(0.999)
    bus.job_event(5, status="succeeded", progress=0.7)

    events = [e for e in bus.read_after(5, "0") if e.kind == "job"]
    assert set(events[0].data) == set(JOB_FIELDS)
    assert [e.data["progress"] for e in events] == [0.5, 0.5, pytest.approx(0.999), 1]
    assert events[-1].is_terminal_job
    assert bus.job_state(5)["status"] == "succeeded"
    # A progress event the sink derived from rows must not follow the terminal one.
    assert bus.job_event(5, status="running", progress=0.9, origin="sink") is None
    # A retry queues the finished job again and starts from its own progress.
    bus.job_event(5, status="queued", progress=0.0)
    assert bus.job_state(5)["progress"] == 0.0


def test_stream_is_capped(client):
    bus = ProgressBus(client, maxlen=10)
    for step in range(400):
        bus.stage_event(9, stage_id=1, stage="keyframe", status="running", step=step, max=400)
    # Approximate trimming removes whole nodes (100 entries by default).
    assert client.xlen(events_key(9)) <= 110


def test_snapshot_reads_the_ends_of_the_stream_and_the_job_state(bus):
    assert bus.snapshot(4) == (None, None, None)
    first = bus.stage_event(4, stage_id=1, stage="keyframe", status="running")
    last = bus.job_event(4, status="running", progress=0.25)
    assert bus.snapshot(4) == (
        first,
        last,
        {"status": "running", "progress": 0.25, "eta_s": None, "id": last},
    )


def test_retire_keeps_a_job_that_published_after_the_given_id(bus, client):
    last = bus.job_event(3, status="succeeded", progress=1.0)
    bus.stage_event(3, stage_id=1, stage="keyframe", status="queued")
    assert not retire_job(client, 3, last)
    assert 3 in active_jobs(client)
    newest = bus.read_after(3, last)[-1].id
    assert retire_job(client, 3, newest)
    assert not client.sismember(ACTIVE_KEY, 3)


def test_keys_parse_back():
    assert parse_events_key(events_key(12)) == 12
    assert parse_events_key(b"tower:progress:12:stages") is None
    assert parse_events_key("other:12:events") is None


def test_publishing_to_a_dead_redis_returns_fast_and_never_raises():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    bus = ProgressBus.from_url(f"redis://127.0.0.1:{port}/0")
    started = time.monotonic()
    assert bus.stage_event(1, stage_id=1, stage="keyframe", status="running") is None
    assert bus.job_event(1, status="running", progress=0.1) is None
    # Far below any hang, with a loaded machine's margin (connection refused is immediate).
    assert time.monotonic() - started < 10


def test_publishing_to_a_stalled_redis_gives_up_within_its_timeout():
    # A server that accepts connections and never answers: the worst case for a worker.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        bus = ProgressBus.from_url(f"redis://127.0.0.1:{server.getsockname()[1]}/0")
        started = time.monotonic()
        for step in range(20):
            assert (
                bus.stage_event(1, stage_id=1, stage="animate", status="running", step=step, max=20)
                is None
            )
        # One socket timeout, then the back-off skips the rest: a single connection was tried.
        assert len(held) <= 1
        assert time.monotonic() - started < 10
    finally:
        stop.set()
        thread.join()
        server.close()
        for conn in held:
            conn.close()


def test_payload_is_plain_json_in_the_stream(bus, client):
    bus.stage_event(2, stage_id=5, stage="mix", status="running", progress=0.5)
    ((_, fields),) = client.xrange(events_key(2))
    assert fields[b"kind"] == b"stage" and fields[b"origin"] == b"task"
    assert json.loads(fields[b"data"])["stage"] == "mix"


def test_a_stage_entry_carries_its_stage_and_status_beside_the_data(bus, client):
    bus.stage_event(2, stage_id=5, stage="mix", status="running", progress=0.5)
    bus.job_event(2, status="running", progress=0.1)
    (_, stage), (_, job) = client.xrange(events_key(2))

    assert entry_stage(stage) == (5, "running")
    assert entry_stage(job) == (None, None)


def test_a_stage_entry_without_or_with_a_malformed_stage_field_reads_as_none():
    assert entry_stage({"kind": "stage", "data": "{}"}) == (None, None)  # written before
    assert entry_stage({b"stage": b"five", b"status": b"running"}) == (None, None)
    assert entry_stage({b"stage": b"5", b"status": b"\xff"}) == (None, None)
    assert entry_stage({"stage": "5"}) == (5, None)
