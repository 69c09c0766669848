"""Injected faults: per prompt (extra_data.emulator_fault) and per server (--fault)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.comfy_emulator.test_queue import sampler_prompt
from tests.comfy_emulator.transcript import Listener, post_prompt
from tests.support.emulator import EmulatorStartError, start_emulator
from tests.support.processes import wait_for


def _run_with_fault(emu, fault: str, steps: int = 5) -> tuple[str, list[dict], dict]:
    listener = Listener(emu.url)
    body = {
        "prompt": sampler_prompt(steps, seed=hash(fault) % 1000),
        "client_id": listener.client_id,
        "extra_data": {"emulator_fault": fault},
    }
    prompt_id = post_prompt(emu.url, body).json()["prompt_id"]
    records = listener.until_done(prompt_id)
    listener.close()
    entry = requests.get(f"{emu.url}/history/{prompt_id}", timeout=10).json()[prompt_id]
    return prompt_id, records, entry


def _texts(records: list[dict]) -> list[dict]:
    return [r["msg"] for r in records if r.get("kind") == "text"]


def test_permanent_error_at_a_node_class(default):
    _, records, entry = _run_with_fault(default, "error:KSampler")
    msgs = _texts(records)
    assert [m["type"] for m in msgs][-3:] == ["execution_error", "status", "executing"]
    error = msgs[-3]["data"]
    assert (error["node_id"], error["node_type"]) == ("6", "KSampler")
    assert error["exception_type"] == "RuntimeError"
    assert error["exception_message"].endswith("\n")
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False


def test_out_of_memory_error(default):
    _, records, entry = _run_with_fault(default, "oom:KSampler")
    error = [m for m in _texts(records) if m["type"] == "execution_error"][0]["data"]
    assert error["exception_type"] == "torch.OutOfMemoryError"
    assert "This error means you ran out of memory on your GPU." in error["exception_message"]
    assert "TIPS:" in error["exception_message"]
    assert entry["status"]["messages"][-1][0] == "execution_error"


def test_slow_start_delays_execution_start(default):
    started = time.time()
    _, records, _ = _run_with_fault(default, "slow:1.0")
    start = [m for m in _texts(records) if m["type"] == "execution_start"][0]["data"]
    assert start["timestamp"] / 1000.0 - started >= 0.95


def test_socket_drop_mid_run_and_the_prompt_still_finishes(default):
    listener = Listener(default.url)
    body = {
        "prompt": sampler_prompt(30, seed=99),
        "client_id": listener.client_id,
        "extra_data": {"emulator_fault": "drop:step=2"},
    }
    prompt_id = post_prompt(default.url, body).json()["prompt_id"]
    with pytest.raises((ConnectionError, OSError, Exception)):  # noqa: B017
        for _ in range(200):
            listener.read(timeout=5)
    seen = [m["type"] for m in _texts(listener.records)]
    assert "execution_success" not in seen
    entry = wait_for(
        lambda: requests.get(f"{default.url}/history/{prompt_id}", timeout=10).json(),
        30,
        interval=0.05,
        what=f"prompt {prompt_id} in the history",
    )
    assert entry[prompt_id]["status"]["status_str"] == "success"


def test_server_wide_error_and_crash(tmp_path):
    with start_emulator(tmp_path / "err", fault="error:VAEDecode") as emu:
        _, records, _ = _run_with_fault(emu, "")
        error = [m for m in _texts(records) if m["type"] == "execution_error"][0]["data"]
        assert error["node_type"] == "VAEDecode"
    emu = start_emulator(tmp_path / "crash", fault="crash:step=3")
    try:
        listener = Listener(emu.url)
        post_prompt(emu.url, {"prompt": sampler_prompt(20), "client_id": listener.client_id})
        with pytest.raises(Exception):  # noqa: B017 - the socket dies with the process
            for _ in range(500):
                listener.read(timeout=10)
        assert emu.popen.wait(20) == 3
        with pytest.raises(requests.ConnectionError):
            requests.get(emu.url + "/queue", timeout=2)
        progress = [m["data"]["value"] for m in _texts(listener.records) if m["type"] == "progress"]
        assert max(progress, default=0) <= 2  # died at the third step
    finally:
        emu.kill()


def test_bad_fault_spec_stops_start_up(tmp_path):
    with pytest.raises(EmulatorStartError):
        start_emulator(tmp_path, fault="explode:now", deadline=10)


def test_a_budgeted_fault_fires_only_for_the_first_prompts():
    from collections import Counter

    from comfy_emulator.faults import spend_budgets

    fired = Counter()
    assert spend_budgets("oom:KSampler*1,slow:0.1", fired) == "oom:KSampler,slow:0.1"
    assert spend_budgets("oom:KSampler*1,slow:0.1", fired) == "slow:0.1"
    assert spend_budgets("error:VAEDecode*2", fired) == "error:VAEDecode"
    assert spend_budgets("error:VAEDecode*2", fired) == "error:VAEDecode"
    assert spend_budgets("error:VAEDecode*2", fired) == ""
