"""The whole catalogue of the real server, and node behaviour the real one showed: upscale model
nodes run, V3 combo inputs list the live model folder, a listed but unemulated class fails as a
node error, a video checkpoint has no text encoder, an offline pack fails its download."""

from __future__ import annotations

import io

import requests
from PIL import Image

from tests.comfy_emulator.transcript import post_prompt, run_prompt


def upscale_prompt(model: str, prefix: str) -> dict:
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 16, "height": 8, "batch_size": 3, "color": 0x336699},
        },
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
        "3": {
            "class_type": "ImageUpscaleWithModel",
            "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]},
        },
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
    progress = [
        r["msg"]["data"]
        for r in records
        if r.get("kind") == "text"
        and r["msg"]["type"] == "progress"
        and r["msg"]["data"]["node"] == "3"
    ]
    assert [(p["value"], p["max"]) for p in progress] == [(1, 3), (2, 3), (3, 3)]


def test_a_model_the_server_does_not_list_is_refused_at_validation(default):
    reply = post_prompt(default.url, {"prompt": upscale_prompt("missing_x2.pth", "up")})
    assert reply.status_code == 400
    error = reply.json()["node_errors"]["2"]["errors"][0]
    assert error["type"] == "value_not_in_list"


def test_a_listed_class_the_emulator_does_not_run_fails_as_a_node_error(default):
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
        },
        "2": {
            "class_type": "ImageSharpen",
            "inputs": {"image": ["1", 0], "sharpen_radius": 1, "sigma": 1.0, "alpha": 1.0},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
    }
    _, _, entry = run_prompt(default.url, prompt)
    assert entry["status"]["status_str"] == "error"
    kind, data = entry["status"]["messages"][-1]
    assert kind == "execution_error" and data["node_type"] == "ImageSharpen"
    assert data["exception_type"] == "NotImplementedError"


def test_a_video_checkpoint_has_no_text_encoder(default):
    prompt = {
        "1": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "svd_xt.safetensors"},
        },
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a street"}},
        "3": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1},
        },
        "4": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "positive": ["2", 0],
                "negative": ["2", 0],
                "latent_image": ["3", 0],
                "seed": 1,
                "steps": 1,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
            },
        },
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}},
    }
    _, _, entry = run_prompt(default.url, prompt)
    kind, data = entry["status"]["messages"][-1]
    assert kind == "execution_error" and data["node_type"] == "CLIPTextEncode"
    assert data["exception_type"] == "RuntimeError"
    assert data["exception_message"].startswith("ERROR: clip input is invalid: None")


def test_a_rife_checkpoint_not_on_disk_fails_its_download_as_the_real_pack_does(default):
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 2, "color": 0},
        },
        "2": {
            "class_type": "RIFE VFI",
            "inputs": {
                "frames": ["1", 0],
                "ckpt_name": "rife49.pth",
                "clear_cache_after_n_frames": 10,
                "multiplier": 2,
                "fast_mode": True,
                "ensemble": True,
                "scale_factor": 1.0,
                "dtype": "float32",
                "torch_compile": False,
                "batch_size": 1,
            },
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "r"}},
    }
    listed = requests.get(default.url + "/object_info/RIFE%20VFI", timeout=10).json()
    assert "rife49.pth" in listed["RIFE VFI"]["input"]["required"]["ckpt_name"][0]
    _, _, entry = run_prompt(default.url, prompt)
    kind, data = entry["status"]["messages"][-1]
    assert kind == "execution_error" and data["exception_type"] == "Exception"
    message = data["exception_message"]
    assert message.startswith("Tried all urls to download rife49.pth but no success.")
    assert message.count("Error when downloading from: ") == 7  # 3 bases and 4 mirrors
    assert len(message) > 20_000
    assert "rife" not in requests.get(default.url + "/models", timeout=10).json()
