"""Every recorded scenario replayed against the emulator over real HTTP + WebSocket."""

from __future__ import annotations

import io

import requests
from PIL import Image

from tests.comfy_emulator.transcript import (
    Listener,
    execution_order,
    field_names,
    is_topological,
    load_json,
    load_ws,
    node_segments,
    omitted_types,
    post_prompt,
    shape,
    upload,
)
from tests.support.emulator import start_emulator
from tests.support.processes import wait_for


def _filtered(records: list[dict], drop: set[str]) -> list[dict]:
    return [
        r
        for r in records
        if r.get("kind") in ("text", "binary")
        and not (r.get("kind") == "binary" and "binary" in drop)
        and not (r.get("kind") == "text" and r["msg"]["type"] in drop)
    ]


def assert_like_recording(recording: str, records: list[dict], drop: set[str] = frozenset()):
    """Same frame types, order, nodes and field names as the recorded transcript."""
    expected = load_ws(recording)
    drop = set(drop) | omitted_types(expected)
    assert shape(records, drop) == shape(expected, drop)
    assert field_names(_filtered(records, drop)) == field_names(_filtered(expected, drop))


def replay(emu, scenario: str, listener: Listener | None = None, **extra) -> tuple[str, list]:
    """POST the scenario's request with our client id and wait for the end."""
    request = load_json(f"{scenario}/request.json")
    own = listener is None
    listener = listener or Listener(emu.url)
    body = {**request, "client_id": listener.client_id, **extra}
    response = post_prompt(emu.url, body)
    assert response.status_code == 200, response.text
    expected_body = load_json(f"{scenario}/post_prompt_response.json")["body"]
    assert sorted(response.json()) == sorted(expected_body)
    prompt_id = response.json()["prompt_id"]
    records = listener.until_done(prompt_id)
    if own:
        listener.close()
    return prompt_id, records


def history_of(emu, prompt_id: str) -> dict:
    """The finished history entry of a prompt."""
    body = requests.get(f"{emu.url}/history/{prompt_id}", timeout=10).json()
    return body[prompt_id]


def assert_history_like(entry: dict, scenario: str) -> None:
    """Same entry shape, output keys, meta and status messages as the recorded history."""
    recorded = next(iter(load_json(f"{scenario}/history.json")["body"].values()))
    assert sorted(entry) == sorted(recorded)
    assert len(entry["prompt"]) == 5
    assert entry["outputs"].keys() == recorded["outputs"].keys()
    for node_id, ui in recorded["outputs"].items():
        assert sorted(entry["outputs"][node_id]) == sorted(ui)
        for key, items in ui.items():
            assert len(entry["outputs"][node_id][key]) == len(items)
            if items and isinstance(items[0], dict):
                assert sorted(entry["outputs"][node_id][key][0]) == sorted(items[0])
    assert entry["meta"] == recorded["meta"]
    status, want = entry["status"], recorded["status"]
    assert (status["status_str"], status["completed"]) == (want["status_str"], want["completed"])
    assert [m[0] for m in status["messages"]] == [m[0] for m in want["messages"]]
    for got, exp in zip(status["messages"], want["messages"], strict=True):
        assert sorted(got[1]) == sorted(exp[1])


def test_success_cached_rerun_and_partial_cache(recorded):
    first, records = replay(recorded, "01_success")
    assert_like_recording("01_success/ws.jsonl", records)
    assert_history_like(history_of(recorded, first), "01_success")
    second, records = replay(recorded, "02_cached_rerun")
    assert_like_recording("02_cached_rerun/ws.jsonl", records)
    entry = history_of(recorded, second)
    assert_history_like(entry, "02_cached_rerun")
    assert entry["outputs"] == history_of(recorded, first)["outputs"]
    third, records = replay(recorded, "03_partial_cache")
    assert_like_recording("03_partial_cache/ws.jsonl", records)
    assert_history_like(history_of(recorded, third), "03_partial_cache")


def test_execution_error_save_path(recorded):
    replay(recorded, "01_success")  # primes the cache like the recording session had
    prompt_id, records = replay(recorded, "06_execution_error_save_path")
    assert_like_recording("06_execution_error_save_path/ws.jsonl", records)
    error = [
        r["msg"]["data"] for r in records if r.get("msg", {}).get("type") == "execution_error"
    ][0]
    assert error["exception_type"] == "Exception"
    assert error["exception_message"].startswith("**** ERROR: Saving image outside")
    assert error["exception_message"].endswith("\n")
    assert error["current_inputs"]["filename_prefix"] == ["../escape/outside"]
    assert_history_like(history_of(recorded, prompt_id), "06_execution_error_save_path")


def test_execution_error_corrupt_image(recorded):
    upload(recorded.url, "corrupt.png", b"this is not a png at all", overwrite="true")
    prompt_id, records = replay(recorded, "07_execution_error_corrupt_image")
    assert_like_recording("07_execution_error_corrupt_image/ws.jsonl", records)
    error = [
        r["msg"]["data"] for r in records if r.get("msg", {}).get("type") == "execution_error"
    ][0]
    assert error["exception_type"] == "PIL.UnidentifiedImageError"
    assert error["current_inputs"] == {"image": ["corrupt.png"]}
    assert "cannot identify image file" in error["exception_message"]
    assert_history_like(history_of(recorded, prompt_id), "07_execution_error_corrupt_image")


def interrupt_at_step_five(url: str, request: dict) -> tuple[list, str]:
    """Run the prompt, interrupt it at its fifth progress step; its messages and id."""
    listener = Listener(url)
    response = post_prompt(url, {**request, "client_id": listener.client_id})
    prompt_id = response.json()["prompt_id"]
    while True:
        msg = listener.read().get("msg") or {}
        if msg.get("type") == "progress" and msg["data"]["value"] == 5:
            break
    requests.post(url + "/interrupt", json={"prompt_id": prompt_id}, timeout=5)
    records = listener.until_done(prompt_id)
    listener.close()
    return records, prompt_id


def test_interrupt_during_progress(tmp_path):
    request = load_json("08_interrupted/request.json")
    # Smaller pictures than the recording: the interrupt semantics are what matter. Slow
    # steps keep the interrupt from landing after the last one on a loaded machine, where
    # the listener may read step five well after the server sent it (the run stops at the
    # interrupt, so only the five steps before it cost time).
    request["prompt"]["1"]["inputs"].update(width=128, height=128)
    with start_emulator(tmp_path, step_seconds=0.25) as slow:
        records, prompt_id = interrupt_at_step_five(slow.url, request)
        history = history_of(slow, prompt_id)
    types = [r["msg"]["type"] for r in records if r.get("kind") == "text"]
    assert types[-3:] == ["execution_interrupted", "status", "executing"]
    assert "execution_success" not in types
    interrupted = [
        r["msg"]["data"]
        for r in records
        if r.get("kind") == "text" and r["msg"]["type"] == "execution_interrupted"
    ][0]
    assert interrupted["node_id"] == "3"
    assert interrupted["node_type"] == "SaveImageWebsocket"
    assert sorted(interrupted["executed"]) == ["1", "2"]
    progress = [
        r["msg"]["data"]["value"]
        for r in records
        if r.get("kind") == "text" and r["msg"]["type"] == "progress"
    ]
    assert max(progress) < 59
    expected = load_ws("08_interrupted/ws.jsonl")
    head = [t for t in shape(expected, {"progress", "progress_state", "binary"})]
    assert shape(records, {"progress", "progress_state", "binary"}) == head
    assert_history_like(history, "08_interrupted")


def test_binary_previews_legacy_then_metadata(recorded):
    _, records = replay(recorded, "09_binary_preview_legacy")
    assert_like_recording("09_binary_preview_legacy/ws.jsonl", records)
    binaries = [r for r in records if r["kind"] == "binary"]
    assert all(b["header_hex"] == "0000000100000002" for b in binaries)
    listener = Listener(recorded.url, flags=True)
    prompt_id, records = replay(recorded, "10_binary_preview_with_metadata", listener)
    listener.close()
    assert_like_recording("10_binary_preview_with_metadata/ws.jsonl", records)
    meta = [r["metadata"] for r in records if r["kind"] == "binary"]
    expected = [
        r["metadata"]
        for r in load_ws("10_binary_preview_with_metadata/ws.jsonl")
        if r["kind"] == "binary"
    ]
    assert [sorted(m) for m in meta] == [sorted(m) for m in expected]
    assert all(m["prompt_id"] == prompt_id and m["image_type"] == "image/png" for m in meta)


def test_video_outputs(recorded):
    prompt_id, records = replay(recorded, "11_video_outputs")
    expected = load_ws("11_video_outputs/ws.jsonl")
    # Independent outputs may run in any order the graph allows, as on the real server.
    assert node_segments(records) == node_segments(expected)
    prompt = load_json("11_video_outputs/request.json")["prompt"]
    assert is_topological(execution_order(records), prompt)
    assert sorted(execution_order(records)) == sorted(execution_order(expected))
    entry = history_of(recorded, prompt_id)
    assert_history_like(entry, "11_video_outputs")
    magic = {"mp4": (4, b"ftyp"), "webp": (8, b"WEBP"), "webm": (0, b"\x1a\x45\xdf\xa3")}
    for node_id, ext in (("3", "mp4"), ("4", "webp"), ("5", "webm")):
        item = entry["outputs"][node_id]["images"][0]
        assert item["filename"].endswith(f"_00001_.{ext}")
        assert entry["outputs"][node_id]["animated"] == [True]
        got = requests.get(recorded.url + "/view", params=item, timeout=10)
        offset, signature = magic[ext]
        assert got.status_code == 200
        assert got.content[offset : offset + len(signature)] == signature
    temp = entry["outputs"]["6"]["images"]
    assert len(temp) == 8 and all(i["type"] == "temp" for i in temp)


def test_load_uploaded_and_output_images(recorded):
    replay(recorded, "01_success")
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 30)).save(buffer, "PNG")
    upload(recorded.url, "keyframe.png", buffer.getvalue(), "fixture", overwrite="true")
    prompt_id, records = replay(recorded, "12_load_uploaded_image")
    assert_like_recording("12_load_uploaded_image/ws.jsonl", records)
    entry = history_of(recorded, prompt_id)
    assert_history_like(entry, "12_load_uploaded_image")
    second = requests.get(
        recorded.url + "/view", params=entry["outputs"]["4"]["images"][1], timeout=10
    )
    assert Image.open(io.BytesIO(second.content)).size == (32, 24)


def test_no_client_id_only_broadcasts(recorded):
    observer = Listener(recorded.url, client_id="")
    request = load_json("13_no_client_id/request.json")
    response = post_prompt(recorded.url, request)
    prompt_id = response.json()["prompt_id"]
    wait_for(
        lambda: history_of_or_none(recorded, prompt_id),
        20,
        interval=0.05,
        what=f"prompt {prompt_id} to end",
    )
    try:
        while True:
            observer.read(timeout=0.3)
    except Exception:  # noqa: BLE001 - read timeout ends the drain
        pass
    observer.close()
    expected = load_ws("13_no_client_id/ws_listener_without_clientId.jsonl")
    assert shape(observer.records) == shape(expected)
    entry = history_of(recorded, prompt_id)
    assert entry["prompt"][3] == {}
    assert_history_like(entry, "13_no_client_id")


def history_of_or_none(emu, prompt_id: str) -> dict | None:
    """The history entry, or None while unfinished."""
    return requests.get(f"{emu.url}/history/{prompt_id}", timeout=10).json().get(prompt_id)


def test_binary_progress_text_and_text_output(recorded):
    prompt_id, records = replay(recorded, "19_binary_progress_text_and_text_output")
    assert_like_recording("19_binary_progress_text_and_text_output/ws.jsonl", records)
    text = [r for r in records if r["kind"] == "binary"][0]
    assert (text["node_id"], text["text"]) == ("2", "width: 40, height: 30\n batch size: 3")
    entry = history_of(recorded, prompt_id)
    assert entry["outputs"] == {"3": {"text": ["40"]}}
