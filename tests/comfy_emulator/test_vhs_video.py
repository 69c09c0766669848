"""VHS_VideoCombine's video formats as the real node writes them: h264-mp4 with libx264's
defaults (B-frames), the prompt embedded, 10-bit, other formats, and the real node's
failures where an encoder is missing (nvenc without a GPU, gifski without its binary)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
import requests
from PIL import Image

from tests.comfy_emulator.transcript import post_prompt, run_prompt, upload
from workers.media.container import read_video_track

REAL_CLIP = Path(__file__).parents[1] / "fixtures/comfyui/media/vhs_h264_bframes_64x64_7f.mp4"


def _frames_folder(emu, name: str, count: int, size: int) -> str:
    """Upload `count` PNGs of a drifting gradient with a little noise into input/<name>/
    (content on which libx264 picks B-frames, as on real footage)."""
    y, x = np.mgrid[0:size, 0:size]
    for i in range(count):
        noise = np.random.default_rng(i).integers(-8, 8, (size, size, 3))
        planes = [(x * 4 + i * 6) % 256, (y * 4) % 256, ((x + y) * 2 + i * 3) % 256]
        pixels = np.clip(np.stack(planes, -1) + noise, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG")
        upload(emu.url, f"{i:05}.png", buffer.getvalue(), name, overwrite="true")
    return name


def _combine(folder: str, fmt: str, prefix: str, **widgets) -> dict:
    return {
        "1": {
            "class_type": "VHS_LoadImages",
            "inputs": {"directory": folder, "image_load_cap": 0, "skip_first_images": 0,
                       "select_every_nth": 1},
        },
        "2": {
            "class_type": "VHS_VideoCombine",
            "inputs": {"images": ["1", 0], "frame_rate": 16, "loop_count": 0,
                       "filename_prefix": prefix, "format": fmt, "pingpong": False,
                       "save_output": True, **widgets},
        },
    }  # fmt: skip


def _output(emu, entry: dict) -> Path:
    item = entry["outputs"]["2"]["gifs"][0]
    return emu.root / item["type"] / item["subfolder"] / item["filename"]


@pytest.fixture(scope="module")
def frames7(default) -> str:
    return _frames_folder(default, "vhs7", 7, 64)


def test_h264_mp4_is_written_like_the_real_nodes(default, frames7: str) -> None:
    prompt = _combine(frames7, "video/h264-mp4", "vhs/h264", pix_fmt="yuv420p", crf=19,
                      save_metadata=True, trim_to_audio=False)  # fmt: skip
    _, _, entry = run_prompt(default.url, prompt)
    path = _output(default, entry)
    ours, real = read_video_track(path), read_video_track(REAL_CLIP)
    # Same encoder settings as the clip the real node wrote: identical parameter sets,
    # B-frames (decode order differs from presentation order), one keyframe.
    assert ours.codec_config == real.codec_config
    assert ours.reorder_delay > 0 and ours.keyframes == real.keyframes == (0,)
    assert (ours.timescale, ours.frame_ticks, ours.frame_count) == (16384, 1024, 7)
    with av.open(str(path)) as container:
        tags = container.metadata
        stream = container.streams.video[0]
        assert (stream.codec_context.profile, stream.codec_context.pix_fmt) == ("High", "yuv420p")
    # The prompt as the node received it: IS_CHANGED results stored on the running prompt.
    embedded = json.loads(tags["prompt"])
    assert embedded["2"] == prompt["2"]
    assert list(embedded["1"]) == ["class_type", "inputs", "is_changed"]
    assert tags["creation_time"] == "now"
    workflow = path.with_suffix(".png")
    with Image.open(workflow) as first:
        assert set(first.text) == {"prompt", "CreationTime"}
        assert json.loads(first.text["prompt"]) == embedded
    history = requests.get(f"{default.url}/history", timeout=10).json()
    assert all(
        "is_changed" not in node for e in history.values() for node in e["prompt"][2].values()
    )


def test_h264_mp4_ten_bit(default, frames7: str) -> None:
    prompt = _combine(frames7, "video/h264-mp4", "vhs/h264-10", pix_fmt="yuv420p10le")
    _, _, entry = run_prompt(default.url, prompt)
    with av.open(str(_output(default, entry))) as container:
        context = container.streams.video[0].codec_context
        assert (context.profile, context.pix_fmt) == ("High 10", "yuv420p10le")


@pytest.mark.parametrize(
    ("fmt", "codec", "suffix"),
    [
        ("video/webm", "vp9", ".webm"),
        ("video/h265-mp4", "hevc", ".mp4"),
        ("video/ProRes", "prores", ".mov"),
        ("video/ffv1-mkv", "ffv1", ".mkv"),
        ("video/ffmpeg-gif", "gif", ".gif"),
    ],
)
def test_other_formats_use_the_packs_encoders(default, frames7, fmt, codec, suffix) -> None:
    _, _, entry = run_prompt(default.url, _combine(frames7, fmt, f"vhs/{codec}"))
    path = _output(default, entry)
    assert path.suffix == suffix and entry["outputs"]["2"]["gifs"][0]["format"] == fmt
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == codec


def test_png_sequence_format(default, frames7: str) -> None:
    _, _, entry = run_prompt(default.url, _combine(frames7, "video/8bit-png", "vhs/seq"))
    item = entry["outputs"]["2"]["gifs"][0]
    assert item["filename"] == "seq_00001.%03d.png" and item["format"] == "video/8bit-png"
    folder = default.root / "output" / "vhs"
    assert sorted(p.name for p in folder.glob("seq_00001.*.png"))[-1] == "seq_00001.007.png"


def test_nvenc_without_a_gpu_fails_like_the_real_node(default) -> None:
    # Frames larger than the pipe's buffer: ffmpeg dies opening the encoder, the pipe breaks.
    folder = _frames_folder(default, "vhs-big", 8, 256)
    prompt = _combine(folder, "video/nvenc_h264-mp4", "vhs/nvenc")
    _, records, entry = run_prompt(default.url, prompt)
    error = next(r["msg"]["data"] for r in records
                 if r.get("kind") == "text" and r["msg"]["type"] == "execution_error")  # fmt: skip
    assert (error["node_id"], error["node_type"]) == ("2", "VHS_VideoCombine")
    assert error["exception_type"] == "Exception"
    assert error["exception_message"].startswith("An error occurred in the ffmpeg subprocess:\n")
    assert "nvenc" in error["exception_message"] or "cuda" in error["exception_message"]
    assert entry["status"]["status_str"] == "error"


def test_nvenc_with_a_few_small_frames_succeeds_with_an_empty_file(default) -> None:
    # All frames fit in the pipe before ffmpeg fails, so no write breaks: the real node
    # raises nothing, its retry without metadata refuses to overwrite the empty file the
    # first try left, and the node reports an output with nothing in it.
    folder = _frames_folder(default, "vhs-tiny", 2, 16)
    _, _, entry = run_prompt(default.url, _combine(folder, "video/nvenc_h264-mp4", "vhs/nv2"))
    assert entry["status"]["status_str"] == "success"
    assert _output(default, entry).stat().st_size == 0


def test_gifski_is_not_offered_without_its_binary(default, frames7: str) -> None:
    response = post_prompt(default.url, {"prompt": _combine(frames7, "video/gifski", "vhs/g")})
    assert response.status_code == 400
    error = response.json()["node_errors"]["2"]["errors"][0]
    assert error["type"] == "value_not_in_list"
    assert "video/gifski" in error["details"]
