"""Node families beyond the recorded scenarios: Gen2 AnimateDiff, LoRA model-only, big
latents, VHS_LoadVideo, animated formats, and LoadImage's file-hash cache key."""

from __future__ import annotations

import io

import imageio_ffmpeg
import requests
from PIL import Image

from tests.comfy_emulator.transcript import run_prompt, upload


def _gen2_prompt(frames: int, fmt: str) -> dict:
    return {
        "1": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"},
        },
        "2": {
            "class_type": "LoraLoaderModelOnly",
            "inputs": {"model": ["1", 0], "lora_name": "hero_a.safetensors", "strength_model": 0.7},
        },
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "hero runs"}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "blurry"}},
        "5": {
            "class_type": "ADE_EmptyLatentImageLarge",
            "inputs": {"width": 64, "height": 64, "batch_size": frames},
        },
        "6": {
            "class_type": "ADE_LoadAnimateDiffModel",
            "inputs": {"model_name": "mm_sd_v15_v2.ckpt"},
        },
        "7": {
            "class_type": "ADE_ApplyAnimateDiffModelSimple",
            "inputs": {"motion_model": ["6", 0]},
        },
        "8": {
            "class_type": "ADE_StandardUniformContextOptions",
            "inputs": {"context_length": 16, "context_stride": 1, "context_overlap": 4},
        },
        "9": {
            "class_type": "ADE_UseEvolvedSampling",
            "inputs": {
                "model": ["2", 0],
                "beta_schedule": "autoselect",
                "m_models": ["7", 0],
                "context_options": ["8", 0],
            },
        },
        "10": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["9", 0],
                "positive": ["3", 0],
                "negative": ["4", 0],
                "latent_image": ["5", 0],
                "seed": 5,
                "steps": 3,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
            },
        },
        "11": {"class_type": "VAEDecode", "inputs": {"samples": ["10", 0], "vae": ["1", 2]}},
        "12": {
            "class_type": "VHS_VideoCombine",
            "inputs": {
                "images": ["11", 0],
                "frame_rate": 8,
                "loop_count": 0,
                "filename_prefix": "gen2/clip",
                "format": fmt,
                "pingpong": False,
                "save_output": True,
            },
        },
    }


def _get(emu, item: dict) -> bytes:
    params = {k: item[k] for k in ("filename", "subfolder", "type")}
    response = requests.get(emu.url + "/view", params=params, timeout=30)
    assert response.status_code == 200
    return response.content


def test_gen2_animatediff_with_big_latent_and_model_only_lora(default, tmp_path):
    _, _, entry = run_prompt(default.url, _gen2_prompt(6, "image/webp"))
    item = entry["outputs"]["12"]["gifs"][0]
    assert item["filename"] == "clip_00001.webp" and item["format"] == "image/webp"
    with Image.open(io.BytesIO(_get(default, item))) as image:
        assert image.n_frames == 6
    _, _, entry = run_prompt(default.url, _gen2_prompt(5, "image/gif"))
    with Image.open(io.BytesIO(_get(default, entry["outputs"]["12"]["gifs"][0]))) as image:
        assert image.n_frames == 5


def test_load_video_round_trip(default, tmp_path):
    _, _, entry = run_prompt(default.url, _gen2_prompt(7, "video/h264-mp4"))
    mp4 = _get(default, entry["outputs"]["12"]["gifs"][0])
    upload(default.url, "clip.mp4", mp4, overwrite="true")
    prompt = {
        "1": {
            "class_type": "VHS_LoadVideo",
            "inputs": {
                "video": "clip.mp4",
                "force_rate": 0,
                "custom_width": 0,
                "custom_height": 0,
                "frame_load_cap": 0,
                "skip_first_frames": 1,
                "select_every_nth": 1,
                "format": "None",
            },
        },
        "2": {
            "class_type": "VHS_VideoCombine",
            "inputs": {
                "images": ["1", 0],
                "frame_rate": 8,
                "loop_count": 0,
                "filename_prefix": "reload/clip",
                "format": "video/h264-mp4",
                "pingpong": False,
                "save_output": True,
            },
        },
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["1", 1]}},
    }
    _, _, entry = run_prompt(default.url, prompt)
    assert entry["outputs"]["3"] == {"text": ["6"]}
    path = tmp_path / "reloaded.mp4"
    path.write_bytes(_get(default, entry["outputs"]["2"]["gifs"][0]))
    assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] == 6
    missing = requests.post(
        default.url + "/prompt",
        json={
            "prompt": {
                **prompt,
                "1": {**prompt["1"], "inputs": {**prompt["1"]["inputs"], "video": "nope.mp4"}},
            }
        },
        timeout=10,
    )
    error = missing.json()["node_errors"]["1"]["errors"][0]
    assert error["type"] == "custom_validation_failed"
    assert error["details"] == "video - Invalid video file: nope.mp4"


def test_load_image_reruns_when_the_file_changes(default):
    def png(color):
        """An 8x8 PNG of one colour."""
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), color).save(buffer, "PNG")
        return buffer.getvalue()

    upload(default.url, "changing.png", png((1, 1, 1)), "cachetest", overwrite="true")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "cachetest/changing.png"}},
        "2": {
            "class_type": "SaveImage",
            "inputs": {"images": ["1", 0], "filename_prefix": "cachetest/out"},
        },
    }

    def cached_nodes(records):
        """The execution_cached node list."""
        return [
            r["msg"]["data"]["nodes"]
            for r in records
            if r.get("kind") == "text" and r["msg"]["type"] == "execution_cached"
        ][0]

    run_prompt(default.url, prompt)
    _, records, _ = run_prompt(default.url, prompt)
    assert cached_nodes(records) == ["1", "2"]
    upload(default.url, "changing.png", png((250, 1, 1)), "cachetest", overwrite="true")
    _, records, entry = run_prompt(default.url, prompt)
    assert cached_nodes(records) == []
    pixel = Image.open(io.BytesIO(_get(default, entry["outputs"]["2"]["images"][0])))
    assert pixel.getpixel((0, 0)) == (250, 1, 1)


def _long_batch_prompt(frames: int, keep: int) -> dict:
    """A picture repeated to `frames`, encoded, sampled, decoded and cut to `keep` frames."""
    return {
        "1": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"},
        },
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "rain"}},
        "3": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x336699},
        },
        "4": {"class_type": "RepeatImageBatch", "inputs": {"image": ["3", 0], "amount": frames}},
        "5": {"class_type": "VAEEncode", "inputs": {"pixels": ["4", 0], "vae": ["1", 2]}},
        "6": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "positive": ["2", 0],
                "negative": ["2", 0],
                "latent_image": ["5", 0],
                "seed": 1,
                "steps": 1,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 0.5,
            },
        },
        "7": {"class_type": "VAEDecode", "inputs": {"samples": ["6", 0], "vae": ["1", 2]}},
        "8": {
            "class_type": "ImageFromBatch",
            "inputs": {"image": ["7", 0], "batch_index": 0, "length": keep},
        },
        "9": {
            "class_type": "SaveImage",
            "inputs": {"images": ["8", 0], "filename_prefix": "long/f"},
        },
    }


def test_a_long_batch_renders_a_distinct_frame_per_index_and_cuts_like_the_real_nodes(default):
    _, _, entry = run_prompt(default.url, _long_batch_prompt(200, 130))
    images = entry["outputs"]["9"]["images"]
    assert len(images) == 130
    frames = [_get(default, item) for item in images]
    pixels = [Image.open(io.BytesIO(f)).convert("RGB").tobytes() for f in frames]
    assert len(set(pixels)) == 130  # no frame repeats another, even 64 px wide
    refused = requests.post(
        default.url + "/prompt", json={"prompt": _long_batch_prompt(4097, 1)}, timeout=10
    )
    assert refused.status_code == 400
    assert refused.json()["node_errors"]["4"]["errors"][0]["type"] == "value_bigger_than_max"
