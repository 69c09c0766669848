"""Cancel, re-attach, socket loss and deadlines against the emulator over real sockets."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.processes import wait_for
from tests.support.web_server import free_port
from tests.workers.comfyui.conftest import FAST, load_workflow, new_prompt_id
from workers.comfyui import (
    Cached,
    ComfyClient,
    ComfyRejected,
    ComfyTimeout,
    ComfyUnavailable,
    Done,
    NodeExecuting,
    NodeOutput,
    Queued,
    Started,
    StepProgress,
    Succeeded,
    is_transient,
)


def keyframe(steps: int, tag: str | None = None) -> dict[str, Any]:
    """A tiny stage-1 graph whose sampler takes `steps` emulated steps."""
    graph = load_workflow("stage1_keyframe_t2i_lora")
    graph["5"]["inputs"].update(width=32, height=32)
    graph["6"]["inputs"].update(steps=steps, seed=uuid.uuid4().int % 2**32)
    graph["8"]["inputs"]["filename_prefix"] = f"farm/{tag or uuid.uuid4().hex[:8]}/keyframe"
    return graph


def wait_until_running(client: ComfyClient, prompt_id: str, timeout: float = 30.0) -> None:
    """Poll until the prompt is the running one."""
    wait_for(
        lambda: client.locate(prompt_id) == "running",
        timeout,
        interval=0.02,
        what=f"prompt {prompt_id} to start",
    )


def stats(emulator: Any) -> dict[str, Any]:
    """The emulator's own counters."""
    return requests.get(f"{emulator.url}/emulator/stats", timeout=5).json()


def test_cancel_running_prompt_interrupts_it_and_spares_the_next(client, client_id):
    running, waiting = new_prompt_id(), new_prompt_id()
    client.submit(keyframe(400), prompt_id=running, client_id=client_id)
    client.submit(keyframe(3), prompt_id=waiting, client_id=client_id)
    wait_until_running(client, running)
    ended = client.cancel(running, client_id=client_id, deadline=time.monotonic() + 20)
    assert ended == "interrupted"
    outcome = client.outcome(running)
    assert outcome.status == "interrupted" and outcome.files == []
    spared = client.follow(waiting, client_id=client_id, deadline=time.monotonic() + 20)
    assert spared.status == "success" and len(spared.files) == 1


def test_cancel_pending_removes_it_and_other_cases(client, client_id):
    running, waiting = new_prompt_id(), new_prompt_id()
    client.submit(keyframe(300), prompt_id=running, client_id=client_id)
    client.submit(keyframe(3), prompt_id=waiting, client_id=client_id)
    assert client.cancel(waiting, client_id=client_id, deadline=time.monotonic() + 5) == "removed"
    assert client.locate(waiting) is None
    assert client.cancel(new_prompt_id(), client_id=client_id, deadline=time.monotonic() + 5) == (
        "not_found"
    )
    assert client.cancel(running, client_id=client_id, deadline=time.monotonic() + 20) in (
        "interrupted",
        "removed",
    )
    done = new_prompt_id()
    client.submit(keyframe(2), prompt_id=done, client_id=client_id)
    client.follow(done, client_id=client_id, deadline=time.monotonic() + 20)
    assert client.cancel(done, client_id=client_id, deadline=time.monotonic() + 5) == "succeeded"


def test_reattach_from_another_process_follows_without_resubmitting(emulator, client, client_id):
    prompt_id = new_prompt_id()
    client.submit(keyframe(60), prompt_id=prompt_id, client_id=client_id)
    # a re-delivered task: a new client (new process, new client id) finds the prompt by id
    with ComfyClient(emulator.url, timeout=(2.0, 10.0), follow_settings=FAST) as other:
        assert other.locate(prompt_id) in ("pending", "running")
        outcome = other.follow(
            prompt_id, client_id=uuid.uuid4().hex, deadline=time.monotonic() + 20
        )
        assert outcome.status == "success" and len(outcome.files) == 1
        assert other.locate(prompt_id) == "done"
    counts = stats(emulator)["prompts"][prompt_id]
    assert (counts["submitted"], counts["executed"]) == (1, 1)


def test_queued_position_then_started(client, client_id):
    first, second = new_prompt_id(), new_prompt_id()
    client.submit(keyframe(30), prompt_id=first, client_id=client_id)
    client.submit(keyframe(2), prompt_id=second, client_id=client_id)
    events: list = []
    outcome = client.follow(
        second, client_id=client_id, deadline=time.monotonic() + 20, on_event=events.append
    )
    assert outcome.status == "success"
    assert events[0] == Queued(0)
    assert isinstance(events[1], Started)
    assert client.locate(first) == "done"


def test_identical_resubmission_is_served_from_cache(client, client_id):
    graph = keyframe(3)
    first = client.submit(graph, prompt_id=new_prompt_id(), client_id=client_id)
    before = client.follow(first.prompt_id, client_id=client_id, deadline=time.monotonic() + 20)
    again = client.submit(graph, prompt_id=new_prompt_id(), client_id=client_id)
    events: list = []
    after = client.follow(
        again.prompt_id, client_id=client_id, deadline=time.monotonic() + 20, on_event=events.append
    )
    cached = next(e for e in events if isinstance(e, Cached))
    assert set(cached.nodes) == set(graph)
    assert not any(isinstance(e, NodeExecuting) for e in events)
    replay = next(e for e in events if isinstance(e, NodeOutput))
    assert [f.filename for f in replay.files] == [f.filename for f in before.files]
    assert after.files == before.files


def test_accepted_prompt_with_a_broken_output(client, client_id):
    graph = keyframe(2)
    graph["9"] = {"class_type": "SaveImage", "inputs": {"images": ["7", 0]}}  # no prefix
    with pytest.raises(ComfyRejected) as caught:
        client.submit(graph, prompt_id=new_prompt_id(), client_id=client_id)
    assert "node 9 (SaveImage) input filename_prefix" in str(caught.value)
    kept = client.submit(
        graph, prompt_id=new_prompt_id(), client_id=client_id, required_outputs=["8"]
    )
    assert set(kept.node_errors) == {"9"}
    outcome = client.follow(kept.prompt_id, client_id=client_id, deadline=time.monotonic() + 20)
    assert outcome.status == "success" and {f.node_id for f in outcome.files} == {"8"}


def test_socket_closed_mid_run_still_ends_right(client, client_id):
    prompt_id = new_prompt_id()
    sock = client.socket(client_id)
    events: list = []

    def drop_once(event) -> None:
        events.append(event)
        if (
            isinstance(event, StepProgress)
            and sum(isinstance(e, StepProgress) for e in events) == 1
        ):
            sock.close()  # as if the network dropped it

    client.submit(keyframe(60), prompt_id=prompt_id, client_id=client_id)
    outcome = client.follow(
        prompt_id, client_id=client_id, deadline=time.monotonic() + 20, on_event=drop_once
    )
    assert outcome.status == "success" and len(outcome.files) == 1
    assert isinstance(events[-1], Done)
    assert sock.is_open  # reconnected


def test_deadline_is_a_transient_timeout(client, client_id):
    prompt_id = new_prompt_id()
    client.submit(keyframe(400), prompt_id=prompt_id, client_id=client_id)
    started = time.monotonic()
    with pytest.raises(ComfyTimeout) as caught:
        client.follow(prompt_id, client_id=client_id, deadline=started + 0.4)
    assert time.monotonic() - started < 15  # the deadline, not the prompt's 400 steps
    assert is_transient(caught.value)
    client.cancel(prompt_id, client_id=client_id, deadline=time.monotonic() + 20)


def test_unreachable_backend_is_transient(tmp_path: Path):
    url = f"http://127.0.0.1:{free_port()}"
    with ComfyClient(url, timeout=(0.5, 1.0), follow_settings=FAST) as dead:
        with pytest.raises(ComfyUnavailable) as caught:
            dead.submit(keyframe(1), prompt_id=new_prompt_id(), client_id="x")
        assert is_transient(caught.value)
        with pytest.raises(ComfyUnavailable):
            dead.follow(new_prompt_id(), client_id="x", deadline=time.monotonic() + 10)
        with pytest.raises(ComfyUnavailable):
            dead.system_stats()


def test_a_frozen_backend_is_given_up_after_the_grace_not_the_read_timeout(tmp_path, client_id):
    """A backend that takes connections and never answers (its process stopped, as a cut-off
    host behind a proxy would be): each poll waits at most the unreachable grace, so the
    follow gives it up as unreachable (transient), not after the client's 30 s read timeout,
    which here would meet the follow's deadline first."""
    from tests.support.emulator import start_emulator

    emulator = start_emulator(tmp_path / "frozen", step_seconds=0.01)
    try:
        with ComfyClient(emulator.url, timeout=(2.0, 30.0), follow_settings=FAST) as comfy:
            prompt_id = new_prompt_id()
            comfy.submit(keyframe(400), prompt_id=prompt_id, client_id=client_id)
            wait_until_running(comfy, prompt_id)
            os.kill(emulator.pid, signal.SIGSTOP)
            try:
                with pytest.raises(ComfyUnavailable) as caught:
                    comfy.follow(prompt_id, client_id=client_id, deadline=time.monotonic() + 25)
            finally:
                os.kill(emulator.pid, signal.SIGCONT)
        assert "unreachable" in str(caught.value) and is_transient(caught.value)
    finally:
        emulator.stop()


def test_prompts_followed_out_of_order_keep_their_events(client, client_id):
    first, second = new_prompt_id(), new_prompt_id()
    client.submit(keyframe(4), prompt_id=first, client_id=client_id)
    client.submit(keyframe(4), prompt_id=second, client_id=client_id)
    # following the second reads (and must keep) the first one's frames on the shared socket
    assert client.follow(second, client_id=client_id, deadline=time.monotonic() + 20).ok
    events: list = []
    outcome = client.follow(
        first, client_id=client_id, deadline=time.monotonic() + 20, on_event=events.append
    )
    assert outcome.status == "success"
    assert isinstance(events[0], Started) and isinstance(events[-1], Done)
    assert [e.value for e in events if isinstance(e, StepProgress)] == [1, 2, 3, 4]


def test_socket_that_never_opens_falls_back_to_polling(client, client_id):
    sock = client.socket(client_id)
    sock.url = f"ws://127.0.0.1:{free_port()}/ws?clientId={client_id}"  # refused every time
    prompt_id = new_prompt_id()
    client.submit(keyframe(10), prompt_id=prompt_id, client_id=client_id)
    events: list = []
    outcome = client.follow(
        prompt_id, client_id=client_id, deadline=time.monotonic() + 20, on_event=events.append
    )
    assert outcome.status == "success" and len(outcome.files) == 1
    assert not sock.is_open
    assert isinstance(events[-2], Succeeded) and isinstance(events[-1], Done)
