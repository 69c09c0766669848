"""The recorded real executions of the farm's stage graphs (fixtures 20-24) replayed against the
emulator: every frame (progress and progress_state included), the history entries and the
queue afterwards, in the order the recording ran them."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest
import requests
from PIL import Image

from tests.comfy_emulator.test_transcripts import (
    assert_history_like,
    assert_like_recording,
    history_of,
)
from tests.comfy_emulator.transcript import Listener, load_json, post_prompt, upload
from tests.support.emulator import Emulator, start_emulator


@pytest.fixture
def emu(tmp_path) -> Iterator[Emulator]:
    """An emulator with the farm's default model names, as the recording server had; a
    sampler step of a second, so the interrupt lands inside the sampler on a loaded machine."""
    with start_emulator(tmp_path, step_seconds=1.0) as server:
        yield server


def png(color: tuple[int, int, int]) -> bytes:
    """A 64x64 PNG, the size the recording uploaded."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buffer, "PNG")
    return buffer.getvalue()


def upload_inputs(url: str, prompt: dict) -> None:
    """The inputs the recorded graph names: a keyframe, or eight frames in a folder."""
    for node in prompt.values():
        for value in node["inputs"].values():
            if not (isinstance(value, str) and value.startswith("tower/")):
                continue
            if node["class_type"] == "LoadImage":
                folder, name = value.rsplit("/", 1)
                upload(url, name, png((10, 20, 30)), folder, overwrite="true")
            else:
                for index in range(8):
                    upload(
                        url, f"{index:05d}.png", png((index * 30, 0, 0)), value, overwrite="true"
                    )


def start(url: str, scenario: str, *, free: bool = True) -> tuple[Listener, str]:
    """Upload the scenario's inputs, empty the cache as the recording did, and post it."""
    request = load_json(f"{scenario}/request.json")
    upload_inputs(url, request["prompt"])
    if free:
        requests.post(url + "/free", json={"unload_models": True, "free_memory": True}, timeout=5)
    listener = Listener(url)
    body = {**request, "client_id": listener.client_id, "prompt_id": str(uuid.uuid4())}
    response = post_prompt(url, body)
    assert response.status_code == 200, response.text
    assert sorted(response.json()) == sorted(
        load_json(f"{scenario}/post_prompt_response.json")["body"]
    )
    return listener, response.json()["prompt_id"]


def assert_ends_like(emu: Emulator, scenario: str, listener: Listener, prompt_id: str) -> dict:
    """Frames, history and queue as recorded; the history entry."""
    records = listener.until_done(prompt_id)
    listener.close()
    assert_like_recording(f"{scenario}/ws.jsonl", records)
    entry = history_of(emu, prompt_id)
    assert_history_like(entry, scenario)
    queue = requests.get(emu.url + "/queue", timeout=5).json()
    assert queue == load_json(f"{scenario}/queue_after.json")["body"]
    return entry


def test_keyframe_animate_cached_rerun_and_interpolate(emu):
    for scenario, free in (
        ("20_real_keyframe", True),
        ("21_real_animate", True),
        ("23_real_cached_rerun", False),  # 21's graph again, right after it
        ("22_real_interpolate", True),
    ):
        entry = assert_ends_like(emu, scenario, *start(emu.url, scenario, free=free))
        recorded = next(iter(load_json(f"{scenario}/history.json")["body"].values()))
        for node_id, ui in recorded["outputs"].items():
            for got, want in zip(
                entry["outputs"][node_id].get("gifs", []), ui.get("gifs", []), strict=True
            ):
                assert (got["type"], got["format"], got["frame_rate"]) == (
                    want["type"], want["format"], want["frame_rate"],
                )  # fmt: skip
                assert got["workflow"] == got["filename"].rsplit(".", 1)[0] + ".png"


def test_interrupt_during_the_animate_sampler(emu):
    listener, prompt_id = start(emu.url, "24_real_interrupt_animate")
    while True:  # as recorded: right after KSampler's progress 1/2
        msg = listener.read(timeout=30).get("msg") or {}
        if msg.get("type") == "progress" and msg["data"]["node"] == "30":
            break
    requests.post(emu.url + "/interrupt", json={"prompt_id": prompt_id}, timeout=5)
    entry = assert_ends_like(emu, "24_real_interrupt_animate", listener, prompt_id)
    assert entry["outputs"] == {} and entry["meta"] == {}
