"""The progress relay against a real Redis: the running events it publishes off the follower's
thread still come before the stage's ending, in order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.models import Status
from shared.progress import ProgressBus
from tasks.progress_relay import ProgressRelay
from tests.workers.progress_sink.harness import flushed_client, progress_settings
from workers.comfyui import NodeExecuting, StepProgress


@pytest.fixture
def bus(settings) -> Iterator[ProgressBus]:
    """A bus on the progress tests' own Redis database, emptied."""
    client = flushed_client(progress_settings(settings))
    yield ProgressBus(client)
    client.close()


def test_running_events_precede_the_ending_in_the_order_they_happened(bus):
    relay = ProgressRelay(bus, job_id=7, run_id=3, scene_id=1, stage="keyframe")
    for node in ("4", "5", "6"):
        relay.on_event(NodeExecuting(node))
    relay.on_event(StepProgress(node="6", value=1, max=1))
    relay.finished(Status.SUCCEEDED)
    events = bus.read_after(7, "0")
    assert [(e.data["status"], e.data.get("node")) for e in events] == [
        ("running", "4"),
        ("running", "5"),
        ("running", "6"),
        ("running", "6"),
        ("succeeded", None),
    ]
    assert events[3].data["step"] == 1


def test_a_failure_comes_after_the_running_events(bus):
    relay = ProgressRelay(bus, job_id=8, run_id=4, scene_id=1, stage="animate")
    relay.on_event(NodeExecuting("9"))
    relay.failed("it broke", None, [])
    statuses = [e.data.get("status") for e in bus.read_after(8, "0")]
    assert statuses == ["running", "failed", "failed"]  # the stage, then its job
