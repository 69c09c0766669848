"""The stage workflows: recorded loader failures (17), VHS (18) and full template runs."""

from __future__ import annotations

import io
import json

import imageio_ffmpeg
import numpy as np
import requests
from PIL import Image

from tests.comfy_emulator.test_transcripts import assert_like_recording, replay
from tests.comfy_emulator.transcript import load_json, run_prompt, upload


def _png(index: int, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (index * 15 % 256, 80, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _upload_inputs(emu, frames: int) -> None:
    upload(emu.url, "keyframe.png", _png(0, (96, 64)), "job-0001", overwrite="true")
    for index in range(frames):
        upload(emu.url, f"frame_{index:05}.png", _png(index), "job-0001_frames", overwrite="true")


def _download(emu, item: dict, tmp_path) -> str:
    response = requests.get(
        emu.url + "/view",
        params={k: item[k] for k in ("filename", "subfolder", "type")},
        timeout=30,
    )
    assert response.status_code == 200
    path = tmp_path / item["filename"]
    path.write_bytes(response.content)
    return str(path)


def _frame_count(path: str) -> int:
    return imageio_ffmpeg.count_frames_and_secs(path)[0]


def _error_of(records: list[dict]) -> dict:
    return [
        r["msg"]["data"]
        for r in records
        if r.get("kind") == "text" and r["msg"]["type"] == "execution_error"
    ][0]


def test_stage_workflows_fail_in_the_loader_like_the_recording(recorded):
    _upload_inputs(recorded, 4)
    faults = {
        "stage1_keyframe_t2i_lora": "error:CheckpointLoaderSimple",
        "stage2_animatediff_img2vid": "error:CheckpointLoaderSimple",
        "stage3_rife_x2": "error:RIFE VFI",
        "stage4_svd_img2vid": "error:ImageOnlyCheckpointLoader",
    }
    for stage, fault in faults.items():
        scenario = f"17_stage_workflows/{stage}"
        _, records = replay(recorded, scenario, extra_data={"emulator_fault": fault})
        assert_like_recording(f"{scenario}/ws.jsonl", records)
        recorded_error = [
            r["msg"]["data"]
            for r in map(json.loads, open_lines(f"{scenario}/ws.jsonl"))
            if r.get("kind") == "text" and r["msg"]["type"] == "execution_error"
        ][0]
        error = _error_of(records)
        for key in ("node_id", "node_type", "executed", "exception_type", "exception_message"):
            assert error[key] == recorded_error[key], (stage, key)
        assert sorted(error["current_outputs"]) == sorted(recorded_error["current_outputs"])


def open_lines(relative: str) -> list[str]:
    """Non-empty lines of a fixture file."""
    from tests.comfy_emulator.transcript import fixtures_dir

    return [x for x in (fixtures_dir() / relative).read_text().splitlines() if x.strip()]


def test_vhs_video_combine_mp4_and_gif(recorded, tmp_path):
    _upload_inputs(recorded, 4)
    prompt_id, records = replay(recorded, "18_vhs_video_combine_success")
    assert_like_recording("18_vhs_video_combine_success/ws.jsonl", records)
    entry = requests.get(f"{recorded.url}/history/{prompt_id}", timeout=10).json()[prompt_id]
    want = next(iter(load_json("18_vhs_video_combine_success/history.json")["body"].values()))
    for node_id in ("2", "3"):
        got_item, want_item = (
            entry["outputs"][node_id]["gifs"][0],
            want["outputs"][node_id]["gifs"][0],
        )
        assert sorted(got_item) == sorted(want_item)
        for key in ("subfolder", "type", "format", "frame_rate"):
            assert got_item[key] == want_item[key]
    mp4 = entry["outputs"]["2"]["gifs"][0]
    assert mp4["filename"].startswith("vhs_") and mp4["filename"].endswith(".mp4")
    assert _frame_count(_download(recorded, mp4, tmp_path)) == 4
    workflow_png = dict(mp4, filename=mp4["workflow"])
    assert _download(recorded, workflow_png, tmp_path).endswith(".png")
    gif = entry["outputs"]["3"]["gifs"][0]
    with Image.open(_download(recorded, gif, tmp_path)) as image:
        assert image.n_frames == 4


def _progress(records: list[dict], node: str) -> list[tuple[int, int]]:
    return [
        (r["msg"]["data"]["value"], r["msg"]["data"]["max"])
        for r in records
        if r.get("kind") == "text"
        and r["msg"]["type"] == "progress"
        and r["msg"]["data"]["node"] == node
    ]


def test_stage1_keyframe_is_deterministic_and_shows_its_inputs(default, tmp_path):
    prompt = load_json("workflows/stage1_keyframe_t2i_lora.json")
    _, records, entry = run_prompt(default.url, prompt)
    assert _progress(records, "6") == [(s, 25) for s in range(1, 26)]
    image = entry["outputs"]["8"]["images"][0]
    assert image["subfolder"] == "farm/job-0001" and image["filename"] == "keyframe_00001_.png"
    first = np.asarray(Image.open(_download(default, image, tmp_path)))
    assert first.shape == (768, 512, 3)
    prompt["8"]["inputs"]["filename_prefix"] = "farm/job-0002/keyframe"
    _, _, again = run_prompt(default.url, prompt)  # only the saver re-runs (cache)
    same = np.asarray(Image.open(_download(default, again["outputs"]["8"]["images"][0], tmp_path)))
    assert np.array_equal(first, same)
    prompt["2"]["inputs"]["lora_name"] = "villain.safetensors"
    _, records, other = run_prompt(default.url, prompt)
    assert [
        r["msg"]["data"]["nodes"]
        for r in records
        if r.get("kind") == "text" and r["msg"]["type"] == "execution_cached"
    ] == [["1", "5"]]
    changed = np.asarray(
        Image.open(_download(default, other["outputs"]["8"]["images"][0], tmp_path))
    )
    assert not np.array_equal(first, changed)


def test_stage2_to_stage4_templates_produce_the_right_frame_counts(default, tmp_path):
    _upload_inputs(default, 16)
    _, records, entry = run_prompt(
        default.url, load_json("workflows/stage2_animatediff_img2vid.json")
    )
    assert _progress(records, "30") == [(s, 20) for s in range(1, 21)]
    assert len(entry["outputs"]["41"]["images"]) == 16
    video = entry["outputs"]["40"]["gifs"][0]
    assert video["format"] == "video/h264-mp4" and video["frame_rate"] == 8.0
    assert _frame_count(_download(default, video, tmp_path)) == 16
    frames = [
        np.asarray(Image.open(_download(default, item, tmp_path)))
        for item in entry["outputs"]["41"]["images"][:2]
    ]
    assert frames[0].shape == (768, 512, 3) and not np.array_equal(frames[0], frames[1])

    _, _, entry = run_prompt(default.url, load_json("workflows/stage3_rife_x2.json"))
    interp = entry["outputs"]["3"]["gifs"][0]
    assert interp["frame_rate"] == 16.0
    assert _frame_count(_download(default, interp, tmp_path)) == 31

    _, _, entry = run_prompt(default.url, load_json("workflows/stage4_svd_img2vid.json"))
    svd = entry["outputs"]["8"]
    assert svd["animated"] == [True] and svd["images"][0]["filename"] == "svd_00001_.mp4"
    assert _frame_count(_download(default, svd["images"][0], tmp_path)) == 25
