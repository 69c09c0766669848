"""The whole catalogue of the real server: upscale model nodes run, a listed but unemulated class
fails as a node error, and V3 combo inputs list the live model folder."""

from __future__ import annotations

import io

import requests
from PIL import Image

from tests.comfy_emulator.transcript import post_prompt, run_prompt


def upscale_prompt(model: str, prefix: str) -> dict:
    return {
        "1": {"class_type": "EmptyImage",
              "inputs": {"width": 16, "height": 8, "batch_size": 3, "color": 0x336699}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
        "3": {"class_type": "ImageUpscaleWithModel",
              "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": prefix}},
    }


def test_the_catalogue_is_the_real_servers_whole_one(default):
    classes = requests.get(default.url + "/object_info", timeout=30).json()
    assert len(classes) == 679
    loader = classes["UpscaleModelLoader"]["input"]["required"]["model_name"]
    assert loader[0] == "COMBO"
    assert loader[1]["options"] == ["RealESRGAN_x2plus.pth", "RealESRGAN_x4plus.pth"]


def test_an_upscale_model_scales_every_frame_with_progress(default):
    _, records, entry = run_prompt(default.url, upscale_prompt("RealESRGAN_x4plus.pth", "up4"))
    assert entry["status"]["status_str"] == "success"
    images = entry["outputs"]["4"]["images"]
    assert len(images) == 3
    view = requests.get(default.url + "/view", params=images[0], timeout=10)
    assert Image.open(io.BytesIO(view.content)).size == (64, 32)
    progress = [r["msg"]["data"] for r in records if r.get("kind") == "text"
                and r["msg"]["type"] == "progress" and r["msg"]["data"]["node"] == "3"]
    assert [(p["value"], p["max"]) for p in progress] == [(1, 3), (2, 3), (3, 3)]


def test_a_model_the_server_does_not_list_is_refused_at_validation(default):
    reply = post_prompt(default.url, {"prompt": upscale_prompt("missing_x2.pth", "up")})
    assert reply.status_code == 400
    error = reply.json()["node_errors"]["2"]["errors"][0]
    assert error["type"] == "value_not_in_list"


def test_a_listed_class_the_emulator_does_not_run_fails_as_a_node_error(default):
    prompt = {
        "1": {"class_type": "EmptyImage",
              "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "ImageSharpen",
              "inputs": {"image": ["1", 0], "sharpen_radius": 1, "sigma": 1.0, "alpha": 1.0}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
    }
    _, _, entry = run_prompt(default.url, prompt)
    assert entry["status"]["status_str"] == "error"
    kind, data = entry["status"]["messages"][-1]
    assert kind == "execution_error" and data["node_type"] == "ImageSharpen"
    assert data["exception_type"] == "NotImplementedError"
