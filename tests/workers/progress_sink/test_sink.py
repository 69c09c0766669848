"""The sink in this process against real Redis and Postgres: coalescing, order, terminal rows."""

from __future__ import annotations

import json
import time

import pytest

from shared.progress import SINK_GROUP, events_key
from tests.workers.progress_sink.harness import read_rows, set_status
from workers.progress_sink import ProgressSink
from workers.progress_sink import sink as sink_module

GPU = {"inputs": {"steps": 20, "frames": 1}}


@pytest.fixture
def sink(app, client):
    """An in-process sink, inside an app context."""
    with app.app_context():
        yield ProgressSink(
            client, consumer="inproc", min_interval_s=0.25, block_ms=50, discover_s=0.1
        )


def run_until(sink: ProgressSink, done, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "sink did not get there in time"
        sink.run_once()


def pending(client, job_id: int) -> int:
    return client.xpending(events_key(job_id), SINK_GROUP)["pending"]


def test_rows_take_the_latest_state_in_order(app, bus, client, sink, make_job):
    job_id, (key, anim) = make_job(
        [{"stage": "keyframe", **GPU}, {"stage": "animate", "scene_id": None, **GPU}]
    )
    for step in range(1, 21):
        bus.stage_event(
            job_id,
            stage_id=key,
            stage="keyframe",
            status="running",
            step=step,
            max=20,
            node="3",
            progress=step / 20,
        )
    for step in range(1, 6):
        bus.stage_event(
            job_id,
            stage_id=anim,
            stage="animate",
            status="running",
            step=step,
            max=20,
            node="30",
            progress=step / 20,
        )
    last = bus.stage_event(
        job_id,
        stage_id=anim,
        stage="animate",
        status="running",
        step=5,
        max=20,
        node="31",
        progress=0.25,
    )

    run_until(sink, lambda: sink.stats.entries >= 26 and pending(client, job_id) == 0)
    job, (k, a) = read_rows(app, job_id)
    assert (k["status"], k["step"], k["step_max"], k["progress"], k["node"]) == (
        "running",
        20,
        20,
        1.0,
        "3",
    )
    assert (a["status"], a["step"], a["node"], a["progress"]) == ("running", 5, "31", 0.25)
    assert job["status"] == "running" and job["current_stage"] == "animate"
    assert job["started_at"] is not None and k["started_at"] is not None
    # A running stage never counts as done: at most 0.999 of it.
    assert job["progress"] == pytest.approx((20 * 0.999 + 5) / 40, abs=1e-6)
    # Coalesced: 26 events, one transaction.
    assert sink.stats.flushes <= 2 and sink.stats.row_writes == 2
    # The row-derived job progress went out on the bus for SSE clients.
    assert bus.read_after(job_id, last)[-1].data["progress"] == job["progress"]


def test_writes_are_throttled_per_job(app, bus, client, sink, make_job):
    job_id, (run,) = make_job([{"stage": "animate", **GPU}])
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < 2.0:
        step += 1
        bus.stage_event(
            job_id,
            stage_id=run,
            stage="animate",
            status="running",
            step=step,
            max=10_000,
            progress=step / 10_000,
        )
        sink.run_once()
        time.sleep(0.005)
    run_until(sink, lambda: pending(client, job_id) == 0)
    assert step > 100
    # 2 s at one write per 0.25 s, plus the first and the last.
    assert sink.stats.row_writes <= 11
    _, (row,) = read_rows(app, job_id)
    assert row["step"] == step


def test_terminal_rows_are_never_moved(app, bus, client, sink, make_job):
    job_id, (done, failed, skipped) = make_job(
        [
            {"stage": "keyframe", "scene_id": None, **GPU},
            {"stage": "animate", "scene_id": None, **GPU},
            {"stage": "interpolate", "scene_id": None, **GPU},
        ]
    )
    set_status(app, "stage_runs", done, "succeeded", step=20, step_max=20, progress=1.0)
    set_status(app, "stage_runs", failed, "failed", step=7, step_max=20, progress=0.35)
    set_status(app, "stage_runs", skipped, "skipped")
    set_status(app, "jobs", job_id, "failed", progress=0.4)
    # Late or re-delivered events of both stages arrive after the task ended them.
    bus.stage_event(
        job_id, stage_id=done, stage="keyframe", status="running", step=3, max=20, progress=0.15
    )
    bus.stage_event(
        job_id, stage_id=failed, stage="animate", status="running", step=9, max=20, progress=0.45
    )
    bus.stage_event(
        job_id,
        stage_id=skipped,
        stage="interpolate",
        status="running",
        step=1,
        max=2,
        progress=0.5,
    )
    bus.job_event(job_id, status="running", progress=0.5)

    run_until(sink, lambda: sink.stats.entries >= 4 and pending(client, job_id) == 0)
    job, (d, f, s) = read_rows(app, job_id)
    assert (d["status"], d["step"], d["progress"]) == ("succeeded", 20, 1.0)
    assert (f["status"], f["step"], f["progress"]) == ("failed", 7, 0.35)
    assert (s["status"], s["step"], s["progress"]) == ("skipped", 0, 0.0)
    assert (job["status"], job["progress"]) == ("failed", 0.4)


def test_progress_never_reaches_one_without_success(app, bus, client, sink, make_job):
    job_id, (run,) = make_job([{"stage": "keyframe", **GPU}])
    bus.stage_event(
        job_id, stage_id=run, stage="keyframe", status="succeeded", step=20, max=20, progress=1.0
    )
    run_until(sink, lambda: sink.stats.entries >= 1 and pending(client, job_id) == 0)
    job, (row,) = read_rows(app, job_id)
    assert row["progress"] == 1.0 and row["status"] == "queued"  # the task writes status
    assert 0.99 < job["progress"] < 1.0


def test_a_finished_job_leaves_the_active_set(app, bus, client, sink, make_job):
    job_id, (run,) = make_job([{"stage": "keyframe", **GPU}])
    bus.stage_event(job_id, stage_id=run, stage="keyframe", status="running", step=1, max=2)
    set_status(app, "jobs", job_id, "succeeded", progress=1.0)
    bus.job_event(job_id, status="succeeded", progress=1.0)
    run_until(sink, lambda: not client.sismember("tower:progress:active", job_id))
    assert pending(client, job_id) == 0


@pytest.fixture
def slow_sink(app, client):
    """A sink whose coalescing window (30 s) no test outlasts."""
    with app.app_context():
        yield ProgressSink(client, consumer="slow", min_interval_s=30, block_ms=50, discover_s=0.1)


def unacknowledged(client, job_id: int) -> int:
    """The job's entries the sink has not acknowledged: pending plus not yet delivered."""
    (group,) = client.xinfo_groups(events_key(job_id))
    return int(group["pending"]) + int(group["lag"] or 0)


def animate_event(bus, job_id: int, stage_id: int, step: int, status: str = "running") -> str:
    return bus.stage_event(
        job_id,
        stage_id=stage_id,
        stage="animate",
        status=status,
        step=step,
        max=10_000,
        progress=step / 10_000,
    )


def test_a_backlog_is_written_without_waiting_for_the_window(app, bus, client, slow_sink, make_job):
    stages = [{"stage": "keyframe", **GPU}, {"stage": "animate", "scene_id": None, **GPU}]
    jobs = [make_job(stages) for _ in range(2)]
    for job_id, (first, _) in jobs:
        animate_event(bus, job_id, first, 1)
    run_until(slow_sink, lambda: slow_sink.stats.row_writes == 2)
    # More than a full read (READ_COUNT) per job while the window (30 s) is open.
    for step in range(2, 602):
        for job_id, stages in jobs:
            animate_event(bus, job_id, stages[step % 2], step)

    run_until(slow_sink, lambda: all(unacknowledged(client, job_id) == 0 for job_id, _ in jobs))
    # One write per stage: the backlog folded.
    assert slow_sink.stats.row_writes == 2 + 4
    for job_id, _ in jobs:
        _, rows = read_rows(app, job_id)
        assert [r["step"] for r in rows] == [600, 601]


def test_the_sinks_own_events_are_acknowledged_without_waiting(
    app, bus, client, slow_sink, make_job
):
    job_id, (run,) = make_job([{"stage": "animate", **GPU}])
    animate_event(bus, job_id, run, 1)
    run_until(slow_sink, lambda: slow_sink.stats.row_writes == 1)
    # The write published the job's new progress (the sink's own event) on the stream: it
    # writes nothing, so the window does not hold it unacknowledged.
    assert bus.read_after(job_id, "0")[-1].origin == "sink"
    run_until(slow_sink, lambda: unacknowledged(client, job_id) == 0)
    assert slow_sink.stats.row_writes == 1


def test_a_backlog_decodes_only_the_entries_that_win(app, bus, client, sink, make_job, monkeypatch):
    decoded = []
    monkeypatch.setattr(sink_module, "decode_entry", counting(decoded, sink_module.decode_entry))
    job_id, (run,) = make_job([{"stage": "animate", **GPU}])
    for step in range(1, 50):
        animate_event(bus, job_id, run, step)
    # An entry as a publisher from before the stage and status fields wrote it.
    client.xadd(
        events_key(job_id),
        {"kind": "stage", "origin": "task", "data": json.dumps({"stage_id": run, "step": 50})},
    )
    animate_event(bus, job_id, run, 51, status="succeeded")

    run_until(sink, lambda: sink.stats.entries == 51 and pending(client, job_id) == 0)
    job, (row,) = read_rows(app, job_id)
    # The newest state won; the job runs, as the replaced entries said, though the newest
    # entry of its one stage did not say so.
    assert row["step"] == 51 and row["status"] == "queued"
    assert job["status"] == "running"
    # The newest, and the one entry that carries no stage field beside its data.
    assert len(decoded) == 2


def counting(calls: list, function):
    """`function`, recording each call's arguments in `calls`."""

    def counted(*args):
        calls.append(args)
        return function(*args)

    return counted
