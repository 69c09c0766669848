"""Queue operations (14), reconnect with the same clientId (15), interrupts and stats."""

from __future__ import annotations

import time
import uuid

import requests

from tests.comfy_emulator.transcript import (
    Listener,
    load_json,
    load_ws,
    post_prompt,
    run_prompt,
    shape,
)
from tests.support.processes import wait_for


def _small(color: int, prefix: str) -> dict:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 2, "color": color},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}},
    }


def sampler_prompt(steps: int, seed: int = 1) -> dict:
    """A tiny text-to-image graph whose KSampler takes steps * --step-seconds."""
    prompt = load_json("workflows/stage1_keyframe_t2i_lora.json")
    prompt["5"]["inputs"].update(width=64, height=64)
    prompt["6"]["inputs"].update(steps=steps, seed=seed)
    return prompt


def test_queue_ops_like_recording(default):
    listener = Listener(default.url, client_id=f"queue-probe-{uuid.uuid4().hex[:6]}")
    cid = listener.client_id
    slow_prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 20, "color": 1},
        },
        "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
    }
    first = post_prompt(
        default.url,
        {"prompt": slow_prompt, "client_id": cid, "extra_data": {"emulator_fault": "slow:3"}},
    ).json()
    chosen = post_prompt(
        default.url,
        {
            "prompt": _small(66051, "fixture/q2"),
            "client_id": cid,
            "prompt_id": "farm-job-0001-b91764af",
        },
    ).json()
    front = post_prompt(
        default.url, {"prompt": _small(263430, "fixture/q3"), "client_id": cid, "front": True}
    ).json()
    late = post_prompt(
        default.url, {"prompt": _small(460809, "fixture/q4"), "client_id": cid, "number": 1000.5}
    ).json()
    assert chosen["prompt_id"] == "farm-job-0001-b91764af"
    assert front["number"] < 0 and late["number"] == 1000.5
    queue = requests.get(default.url + "/queue", timeout=10).json()
    assert [item[1] for item in queue["queue_running"]] == [first["prompt_id"]]
    assert all(len(item) == 5 for item in queue["queue_running"] + queue["queue_pending"])
    recorded = load_json("14_queue_ops/http_log.json")[4]["body"]
    assert len(queue["queue_pending"]) == len(recorded["queue_pending"])
    assert sorted(i[0] for i in queue["queue_pending"])[0] == front["number"]
    assert requests.get(default.url + "/prompt", timeout=10).json() == {
        "exec_info": {"queue_remaining": 4}
    }
    noop = requests.post(
        default.url + "/interrupt", json={"prompt_id": chosen["prompt_id"]}, timeout=10
    )
    assert noop.status_code == 200 and noop.content == b""
    deleted = requests.post(
        default.url + "/queue", json={"delete": [late["prompt_id"]]}, timeout=10
    )
    assert deleted.status_code == 200 and deleted.content == b""
    pending = requests.get(default.url + "/queue", timeout=10).json()["queue_pending"]
    assert [i[1] for i in pending] == [front["prompt_id"], chosen["prompt_id"]]
    records = listener.until_done(chosen["prompt_id"])
    listener.close()
    order = [
        r["msg"]["data"]["prompt_id"]
        for r in records
        if r.get("kind") == "text" and r["msg"]["type"] == "execution_start"
    ]
    assert order == [first["prompt_id"], front["prompt_id"], chosen["prompt_id"]]
    # From the first prompt's end on, the frames match the recording exactly.
    drop = {"progress", "progress_state", "binary"}
    expected = shape(load_ws("14_queue_ops/ws.jsonl"), drop)
    got = shape(records, drop)
    tail_from = [i for i, t in enumerate(expected) if t == ("execution_success", None)][0]
    got_from = [i for i, t in enumerate(got) if t == ("execution_success", None)][0]
    tail_to = max(i for i, t in enumerate(expected) if t == ("executing", None)) + 1
    assert got[got_from:] == expected[tail_from:tail_to]
    history = requests.get(default.url + "/history", params={"max_items": 2}, timeout=10).json()
    assert list(history) == [front["prompt_id"], chosen["prompt_id"]]
    assert requests.post(default.url + "/queue", json={"clear": True}, timeout=10).ok
    assert requests.post(default.url + "/interrupt", timeout=10).status_code == 200


def test_reconnect_with_same_client_id_takes_over(default):
    client_id = f"reconnect-probe-{uuid.uuid4().hex[:6]}"
    first = Listener(default.url, client_id=client_id)
    prompt = sampler_prompt(300, seed=15)  # 300 steps: long enough to reconnect mid-run
    prompt_id = post_prompt(default.url, {"prompt": prompt, "client_id": client_id}).json()[
        "prompt_id"
    ]
    while True:
        msg = first.read().get("msg") or {}
        if msg.get("type") == "progress" and msg["data"]["value"] >= 3:
            break
    second = Listener(default.url, client_id=client_id)
    greeting, replay = second.records[0]["msg"], second.read()["msg"]
    assert greeting["data"]["sid"] == client_id
    assert greeting["data"]["status"]["exec_info"]["queue_remaining"] == 1
    assert replay == {"type": "executing", "data": {"node": "6"}}
    records = second.until_done(prompt_id)
    types = [r["msg"]["type"] for r in records if r.get("kind") == "text"]
    assert types[-3:] == ["execution_success", "status", "executing"]
    recorded = load_ws("15_reconnect_same_client_id/ws_second_socket.jsonl")
    # The recording reconnected while node 1 ran; here the sampler (node 6) runs.
    assert [t[0] for t in shape(recorded[:2])] == [t[0] for t in shape(records[:2])]
    assert sorted(recorded[1]["msg"]["data"]) == sorted(replay["data"])
    first.ws.settimeout(0.3)
    old_types = []
    try:
        while True:
            old_types.append(first.read(timeout=0.3).get("msg", {}).get("type"))
    except Exception:  # noqa: BLE001 - silence is the expected outcome
        pass
    assert "execution_success" not in old_types
    first.close()
    second.close()


def test_interrupt_semantics_and_stats(default):
    listener = Listener(default.url)
    steps = 400
    body = {
        "prompt": sampler_prompt(steps, seed=7),
        "client_id": listener.client_id,
        "prompt_id": str(uuid.uuid4()),
    }
    prompt_id = post_prompt(default.url, body).json()["prompt_id"]
    other = requests.post(
        default.url + "/interrupt", json={"prompt_id": "someone-else"}, timeout=10
    )
    assert other.status_code == 200
    # JSON that is not an object: the real handler's json_data.get raises (a 500, no interrupt).
    assert requests.post(default.url + "/interrupt", json=[], timeout=10).status_code == 500
    while True:
        msg = listener.read().get("msg") or {}
        if msg.get("type") == "progress" and msg["data"]["value"] >= 3:
            break
    requests.post(default.url + "/interrupt", timeout=10)  # no prompt_id: whatever runs
    records = listener.until_done(prompt_id)
    listener.close()
    values = [
        r["msg"]["data"]["value"]
        for r in records
        if r.get("kind") == "text" and r["msg"]["type"] == "progress"
    ]
    assert values == sorted(values) and max(values) < steps
    entry = requests.get(f"{default.url}/history/{prompt_id}", timeout=10).json()[prompt_id]
    assert entry["status"]["status_str"] == "error"
    assert entry["status"]["messages"][-1][0] == "execution_interrupted"
    # A stray interrupt while idle does not kill the next prompt (the flag resets).
    requests.post(default.url + "/interrupt", timeout=10)
    time.sleep(0.05)
    again = post_prompt(default.url, body).json()
    assert again["prompt_id"] == prompt_id

    def status_of_rerun() -> str | None:
        entry = requests.get(f"{default.url}/history/{prompt_id}", timeout=10).json()
        return entry[prompt_id]["status"]["status_str"] if entry else None

    # The re-run replaces the failed entry under the same id.
    wait_for(lambda: status_of_rerun() == "success", 30, what=f"prompt {prompt_id} to succeed")
    stats = requests.get(default.url + "/emulator/stats", timeout=10).json()
    assert stats["prompts"][prompt_id] == {"submitted": 2, "rejected": 0, "executed": 2}
    post_prompt(default.url, {"prompt": {}, "prompt_id": prompt_id})
    stats = requests.get(default.url + "/emulator/stats", timeout=10).json()
    assert stats["prompts"][prompt_id]["rejected"] == 1


def test_cached_rerun_counts_as_executed_but_writes_nothing(default):
    prompt = _small(123, "fixture/stats")
    pid = str(uuid.uuid4())
    run_prompt(default.url, prompt, prompt_id=pid)
    _, records, entry = run_prompt(default.url, prompt, prompt_id=pid)
    cached = [
        r["msg"]["data"]["nodes"]
        for r in records
        if r.get("kind") == "text" and r["msg"]["type"] == "execution_cached"
    ][0]
    assert cached == ["1", "2", "3"]
    assert [i["filename"] for i in entry["outputs"]["3"]["images"]] == [
        "stats_00001_.png",
        "stats_00002_.png",
    ]
    stats = requests.get(default.url + "/emulator/stats", timeout=10).json()["prompts"][pid]
    assert stats["executed"] == 2
