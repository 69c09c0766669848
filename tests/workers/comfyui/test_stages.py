"""The four stage workflows run through the client against the emulator over real sockets."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from PIL import Image

from tests.workers.comfyui.conftest import load_workflow, new_prompt_id
from workers.comfyui import (
    ComfyClient,
    Done,
    NodeExecuting,
    Started,
    StepProgress,
    Succeeded,
    UploadedFile,
)

SIZE = 64
FRAMES = 4
STEPS = 3


def make_png(path: Path, color: tuple[int, int, int]) -> Path:
    """A small PNG on disk."""
    Image.new("RGB", (SIZE, SIZE), color).save(path)
    return path


def frame_count(path: Path) -> int:
    """Frames in a video, by decoding it with ffmpeg."""
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    return frames


def stage1(tag: str, client: ComfyClient, tmp: Path) -> dict[str, Any]:
    graph = load_workflow("stage1_keyframe_t2i_lora")
    graph["5"]["inputs"].update(width=SIZE, height=SIZE)
    graph["6"]["inputs"]["steps"] = STEPS
    graph["8"]["inputs"]["filename_prefix"] = f"farm/{tag}/keyframe"
    return graph


def upload_keyframe(tag: str, client: ComfyClient, tmp: Path) -> UploadedFile:
    uploaded = client.upload_image(
        make_png(tmp / "kf.png", (200, 40, 40)), subfolder=tag, name="keyframe.png"
    )
    assert (uploaded.name, uploaded.subfolder, uploaded.type) == ("keyframe.png", tag, "input")
    return uploaded


def stage2(tag: str, client: ComfyClient, tmp: Path) -> dict[str, Any]:
    graph = load_workflow("stage2_animatediff_img2vid")
    graph["10"]["inputs"]["image"] = upload_keyframe(tag, client, tmp).reference
    graph["11"]["inputs"].update(width=SIZE, height=SIZE)
    graph["13"]["inputs"]["amount"] = FRAMES
    graph["30"]["inputs"]["steps"] = STEPS
    graph["40"]["inputs"]["filename_prefix"] = f"farm/{tag}/anim"
    graph["41"]["inputs"]["filename_prefix"] = f"farm/{tag}/frames/frame"
    return graph


def stage3(tag: str, client: ComfyClient, tmp: Path) -> dict[str, Any]:
    for index in range(FRAMES):
        path = make_png(tmp / f"f{index:03d}.png", (index * 60, 90, 160))
        client.upload_image(path, subfolder=f"{tag}_frames", name=f"frame_{index:05d}.png")
    graph = load_workflow("stage3_rife_x2")
    graph["1"]["inputs"]["directory"] = f"{tag}_frames"
    graph["3"]["inputs"]["filename_prefix"] = f"farm/{tag}/interp"
    return graph


def stage4(tag: str, client: ComfyClient, tmp: Path) -> dict[str, Any]:
    graph = load_workflow("stage4_svd_img2vid")
    graph["2"]["inputs"]["image"] = upload_keyframe(tag, client, tmp).reference
    graph["3"]["inputs"].update(width=SIZE, height=SIZE, video_frames=FRAMES)
    graph["5"]["inputs"]["steps"] = STEPS
    graph["8"]["inputs"]["filename_prefix"] = f"farm/{tag}/svd"
    return graph


# stage builder, expected (node id -> number of files), expected frames of each video
STAGES = {
    "stage1": (stage1, {"8": 1}, None),
    "stage2": (stage2, {"40": 1, "41": FRAMES}, FRAMES),
    "stage3": (stage3, {"3": 1}, (FRAMES - 1) * 2 + 1),
    "stage4": (stage4, {"8": 1}, FRAMES),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_runs_to_completion_with_monotonic_progress(
    stage: str, client: ComfyClient, client_id: str, tmp_path: Path
):
    build, expected_files, expected_frames = STAGES[stage]
    tag = f"{stage}-{uuid.uuid4().hex[:8]}"
    graph = build(tag, client, tmp_path)
    prompt_id = new_prompt_id()
    events: list = []
    result = client.submit(graph, prompt_id=prompt_id, client_id=client_id)
    assert result.prompt_id == prompt_id and result.node_errors == {}
    outcome = client.follow(
        prompt_id, client_id=client_id, deadline=time.monotonic() + 30, on_event=events.append
    )
    assert outcome.status == "success", outcome
    assert isinstance(events[-1], Done) and isinstance(events[-2], Succeeded)
    started = next(i for i, e in enumerate(events) if isinstance(e, Started))
    assert all(not isinstance(e, NodeExecuting) for e in events[:started])
    steps: dict[str, list[int]] = {}
    for event in events:
        if isinstance(event, StepProgress):
            steps.setdefault(event.node, []).append(event.value)
    assert steps, "a sampling stage reports progress"
    for values in steps.values():
        assert values == sorted(values)
    per_node: dict[str, int] = {}
    for file in outcome.files:
        per_node[file.node_id] = per_node.get(file.node_id, 0) + 1
    assert per_node == expected_files
    for index, file in enumerate(outcome.files):
        dest = client.download(file, tmp_path / "out" / f"{index:03d}{Path(file.filename).suffix}")
        assert dest.stat().st_size > 0
        if dest.suffix == ".png":
            with Image.open(dest) as image:
                assert image.size == (SIZE, SIZE)
        else:
            assert frame_count(dest) == expected_frames
    leftovers = [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert leftovers == []
