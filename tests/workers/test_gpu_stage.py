"""A GPU stage on a real (emulated) ComfyUI: the outputs its workflow promises must arrive as
readable files, or the stage fails, even when the server reports success."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from PIL import Image

from tests.support.emulator import start_emulator
from workers.comfyui import ComfyClient
from workers.gpu_stage import StageInput, StageOutputMissing, StageSpec, run_gpu_stage
from workers.storage import LocalStore
from workers.workflows import default_templates


def frames_dir(folder: Path, count: int = 3) -> Path:
    """A few distinct 64x64 frames, as animate leaves them."""
    folder.mkdir(parents=True)
    for index in range(count):
        Image.new("RGB", (64, 64), (40 * index, 90, 200 - 40 * index)).save(
            folder / f"{index:05d}.png"
        )
    return folder


def interpolate_spec(tmp_path: Path, **output_inputs) -> StageSpec:
    """The built-in interpolate stage, its output node changed by `output_inputs`."""
    template = default_templates()["interpolate"]
    output = template.outputs[0].node
    template.graph[output]["inputs"].update(output_inputs)
    prompt_id = str(uuid.uuid4())
    return StageSpec(
        prompt_id=prompt_id,
        client_id=uuid.uuid4().hex,
        template=template,
        params={"multiplier": 2, "fps": 8},
        output_key=f"jobs/t/{prompt_id[:8]}",
        inputs=(StageInput("frames", frames_dir(tmp_path / "frames")),),
    )


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with start_emulator(tmp_path_factory.mktemp("comfy"), step_seconds=0.01) as server:
        yield server


@pytest.fixture
def client(emulator):
    with ComfyClient(emulator.url, timeout=(2.0, 30.0)) as comfy:
        yield comfy


def test_the_clip_is_stored_with_its_facts(client, tmp_path):
    store = LocalStore(tmp_path / "artifacts")
    clip, frames = run_gpu_stage(interpolate_spec(tmp_path), client, store)
    assert clip.kind == "video" and clip.facts["frames"] == 5
    assert store.path(clip.key).stat().st_size == clip.facts["size_bytes"] > 0
    assert frames.kind == "frames" and frames.facts["frames"] == 5
    assert len(list(store.path(frames.key).glob("*.png"))) == 5


def test_a_prompt_that_succeeds_with_an_empty_file_fails_the_stage(client, tmp_path):
    # NVENC without an NVIDIA GPU: the real node reports success and leaves a 0-byte file.
    spec = interpolate_spec(tmp_path, format="video/nvenc_h264-mp4")
    with pytest.raises(StageOutputMissing, match="is empty"):
        run_gpu_stage(spec, client, LocalStore(tmp_path / "artifacts"))


def test_a_prompt_that_succeeds_without_its_output_fails_the_stage(client, tmp_path):
    # save_output off: the node writes a temp preview only, no output file.
    spec = interpolate_spec(tmp_path, save_output=False)
    with pytest.raises(StageOutputMissing, match="succeeded without output"):
        run_gpu_stage(spec, client, LocalStore(tmp_path / "artifacts"))
