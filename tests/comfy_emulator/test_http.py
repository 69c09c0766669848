"""Plain HTTP endpoints: /view guards, uploads, object_info, stats, models, history, origin."""

from __future__ import annotations

import io
import json

import requests
from PIL import Image

from tests.comfy_emulator.conftest import RECORDED_MODELS
from tests.comfy_emulator.transcript import load_json, run_prompt, upload


def _png(color: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def test_view_requests_like_recorded(recorded):
    run_prompt(recorded.url, load_json("01_success/request.json")["prompt"])
    upload(recorded.url, "keyframe.png", _png((1, 2, 3)), "fixture", overwrite="true")
    for case in load_json("http/view_requests.json"):
        response = requests.get(recorded.url + "/view", params=case["query"], timeout=10)
        assert response.status_code == case["http_status"], case["query"]
        if case["http_status"] == 200:
            assert response.headers["Content-Type"].split(";")[0] == case["content_type"]
            assert response.headers["Content-Disposition"] == case["content_disposition"]
            magic = bytes.fromhex(case["body_magic_hex"])[:4]  # RIFF size bytes vary
            assert response.content[: len(magic)] == magic
        else:
            assert response.content == b""


def test_upload_naming_rules(recorded):
    first = upload(recorded.url, "naming.png", _png((9, 9, 9)), "uploads")
    again = upload(recorded.url, "naming.png", _png((9, 9, 9)), "uploads")
    other = upload(recorded.url, "naming.png", _png((200, 0, 0)), "uploads")
    forced = upload(recorded.url, "naming.png", _png((0, 200, 0)), "uploads", overwrite="true")
    assert first == {"name": "naming.png", "subfolder": "uploads", "type": "input"}
    assert again == first
    assert other["name"] == "naming (1).png"
    assert forced["name"] == "naming.png"
    stored = requests.get(
        recorded.url + "/view",
        params={"filename": "naming.png", "subfolder": "uploads", "type": "input"},
        timeout=10,
    )
    assert Image.open(io.BytesIO(stored.content)).getpixel((0, 0)) == (0, 200, 0)
    recorded_names = [
        load_json(f"http/upload_image_{n}.json")["body"]["name"]
        for n in ("response", "duplicate_response", "renamed_response")
    ]
    assert recorded_names == ["keyframe.png", "keyframe.png", "keyframe (1).png"]


def test_upload_guards_origin_and_api_prefix(recorded):
    traversal = requests.post(
        recorded.url + "/upload/image",
        files={"image": ("x.png", _png((1, 1, 1)), "image/png")},
        data={"subfolder": "../../etc"},
        timeout=10,
    )
    assert traversal.status_code == 400 and traversal.content == b""
    missing = requests.post(recorded.url + "/upload/image", data={"subfolder": "x"}, timeout=10)
    assert missing.status_code == 400
    host = recorded.url.removeprefix("http://")
    foreign = requests.post(
        recorded.url + "/prompt",
        json={},
        headers={"Origin": "http://evil.example", "Host": host},
        timeout=10,
    )
    assert foreign.status_code == 403 and foreign.content == b""
    same = requests.get(recorded.url + "/prompt", headers={"Origin": f"http://{host}"}, timeout=10)
    assert same.status_code == 200
    prefixed = requests.get(recorded.url + "/api/prompt", timeout=10)
    assert prefixed.status_code == 200 and "exec_info" in prefixed.json()


def test_object_info_from_recordings_with_live_lists(recorded):
    everything = requests.get(recorded.url + "/object_info", timeout=10).json()
    needed = {
        "EmptyImage",
        "ImageInvert",
        "ImageBatch",
        "GetImageSize",
        "SaveImage",
        "PreviewImage",
        "PreviewAny",
        "LoadImage",
        "SaveAnimatedWEBP",
        "SaveWEBM",
        "CreateVideo",
        "SaveVideo",
        "SaveImageWebsocket",
        "VHS_LoadImages",
        "VHS_VideoCombine",
        "VHS_LoadVideo",
        "CheckpointLoaderSimple",
        "LoraLoader",
        "LoraLoaderModelOnly",
        "CLIPTextEncode",
        "EmptyLatentImage",
        "KSampler",
        "VAEDecode",
        "VAEEncode",
        "ADE_AnimateDiffLoaderGen1",
        "ADE_LoadAnimateDiffModel",
        "ADE_ApplyAnimateDiffModelSimple",
        "ADE_UseEvolvedSampling",
        "ADE_EmptyLatentImageLarge",
        "RIFE VFI",
        "SVD_img2vid_Conditioning",
        "VideoLinearCFGGuidance",
        "ImageOnlyCheckpointLoader",
        "RepeatLatentBatch",
    }
    assert needed <= set(everything)
    ksampler = requests.get(recorded.url + "/object_info/KSampler", timeout=10).json()
    assert ksampler == load_json("object_info/KSampler.json")
    ckpt = everything["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    assert ckpt == RECORDED_MODELS["checkpoints"]
    assert requests.get(recorded.url + "/object_info/Nope", timeout=10).json() == {}
    upload(recorded.url, "listed.png", _png((4, 4, 4)))
    load_image = requests.get(recorded.url + "/object_info/LoadImage", timeout=10).json()
    assert "listed.png" in load_image["LoadImage"]["input"]["required"]["image"][0]


def test_default_inventory_models_and_system_stats(default):
    loras = requests.get(default.url + "/models/loras", timeout=10).json()
    assert {
        "character_v1.safetensors",
        "character_v2.safetensors",
        "hero_a.safetensors",
        "hero_b.safetensors",
        "villain.safetensors",
    } <= set(loras)
    rife = requests.get(default.url + "/object_info/RIFE%20VFI", timeout=10).json()
    assert "rife49.pth" in rife["RIFE VFI"]["input"]["required"]["ckpt_name"][0]
    folders = requests.get(default.url + "/models", timeout=10).json()
    assert (
        folders[: len(load_json("http/get_models.json")["body"])]
        == load_json("http/get_models.json")["body"]
    )
    assert requests.get(default.url + "/models/nope", timeout=10).status_code == 404
    stats = requests.get(default.url + "/system_stats", timeout=10).json()
    recorded_stats = load_json("http/system_stats.json")["body"]
    assert sorted(stats) == sorted(recorded_stats)
    assert sorted(stats["system"]) == sorted(recorded_stats["system"])
    device = stats["devices"][0]
    assert sorted(device) == sorted(recorded_stats["devices"][0])
    assert device["type"] == "cuda" and device["vram_total"] > device["vram_free"] > 0
    assert (
        requests.get(default.url + "/features", timeout=10).json()
        == load_json("http/get_features.json")["body"]
    )


def test_queue_and_history_endpoints(default):
    assert (
        requests.get(default.url + "/queue", timeout=10).json()
        == load_json("http/get_queue_idle.json")["body"]
    )
    assert requests.get(default.url + "/history/unknown", timeout=10).json() == {}
    prompt = load_json("01_success/request.json")["prompt"]
    first, _, _ = run_prompt(default.url, prompt)
    prompt["3"]["inputs"]["filename_prefix"] = "fixture/other"
    second, _, _ = run_prompt(default.url, prompt)
    last = requests.get(default.url + "/history", params={"max_items": 1}, timeout=10).json()
    assert list(last) == [second]
    requests.post(default.url + "/history", json={"delete": [second]}, timeout=10)
    assert requests.get(f"{default.url}/history/{second}", timeout=10).json() == {}
    assert first in requests.get(default.url + "/history", timeout=10).json()
    cleared = requests.post(default.url + "/history", json={"clear": True}, timeout=10)
    assert cleared.status_code == 200 and cleared.content == b""
    assert requests.get(default.url + "/history", timeout=10).json() == {}
    body = json.dumps(requests.get(default.url + "/prompt", timeout=10).json())
    assert body == json.dumps(load_json("http/get_prompt.json")["body"])
