"""Injected emulator faults, validation and server endpoints, classified by the client."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.workers.comfyui.conftest import FAST, new_prompt_id
from tests.workers.comfyui.test_control import keyframe
from workers.comfyui import (
    ComfyClient,
    ComfyExecutionFailed,
    ComfyOutOfMemory,
    ComfyProtocolError,
    ComfyRejected,
    ComfyUnavailable,
    OutputFile,
    is_transient,
    safe_name,
)


def run(client: ComfyClient, client_id: str, fault: str, steps: int = 6):
    """Submit a keyframe prompt with a per-prompt fault and follow it."""
    prompt_id = new_prompt_id()
    client.submit(
        keyframe(steps),
        prompt_id=prompt_id,
        client_id=client_id,
        extra_data={"emulator_fault": fault},
    )
    return client.follow(prompt_id, client_id=client_id, deadline=time.monotonic() + 20)


def test_error_fault_is_a_permanent_execution_failure(client, client_id):
    outcome = run(client, client_id, "error:KSampler")
    assert outcome.status == "error" and outcome.error.node_type == "KSampler"
    with pytest.raises(ComfyExecutionFailed) as caught:
        outcome.raise_for_status()
    assert caught.value.node_id == "6" and not is_transient(caught.value)


def test_oom_fault_is_transient(client, client_id):
    outcome = run(client, client_id, "oom:KSampler")
    assert outcome.status == "error" and outcome.error.out_of_memory
    with pytest.raises(ComfyOutOfMemory) as caught:
        outcome.raise_for_status()
    assert is_transient(caught.value)


def test_socket_drop_fault_still_ends_in_success(client, client_id, caplog):
    with caplog.at_level(logging.WARNING, logger="workers.comfyui.follower"):
        outcome = run(client, client_id, "drop:step=2", steps=20)
    assert outcome.status == "success" and len(outcome.files) == 1
    assert "socket dropped" in caplog.text
    assert client.socket(client_id).is_open  # reconnected


def test_slow_start_fault_still_succeeds(client, client_id):
    outcome = run(client, client_id, "slow:0.5")
    assert outcome.status == "success"


def test_crash_fault_is_transient(tmp_path: Path, client_id):
    from tests.support.emulator import start_emulator

    server = start_emulator(tmp_path / "crash", step_seconds=0.01)
    try:
        with ComfyClient(server.url, timeout=(0.5, 2.0), follow_settings=FAST) as comfy:
            with pytest.raises(ComfyUnavailable) as caught:
                run(comfy, client_id, "crash:step=3", steps=20)
            assert is_transient(caught.value)
    finally:
        server.kill()


def test_missing_model_is_rejected_naming_node_class_and_input(client, client_id):
    graph = keyframe(2)
    graph["2"]["inputs"]["lora_name"] = "no_such_lora.safetensors"
    with pytest.raises(ComfyRejected) as caught:
        client.submit(graph, prompt_id=new_prompt_id(), client_id=client_id)
    assert "node 2 (LoraLoader) input lora_name" in str(caught.value)
    assert [(e.node_id, e.input_name) for e in caught.value.errors] == [("2", "lora_name")]
    assert not is_transient(caught.value)


@pytest.mark.parametrize("graph", [[1, 2], {"1": 5}])
def test_a_prompt_the_server_cannot_read_is_permanent(client, client_id, graph):
    # The real server answers 500 for these (http/misc_edge_cases.json): its handler raised on
    # the body itself, so retrying, here or on another backend, gets the same answer.
    prompt_id = new_prompt_id()
    with pytest.raises(ComfyRejected) as caught:
        client.submit(graph, prompt_id=prompt_id, client_id=client_id)
    assert not is_transient(caught.value) and caught.value.error_type == "server_error"
    assert "HTTP 500" in str(caught.value) and "Server got itself in trouble" in str(caught.value)
    assert client.locate(prompt_id) is None


def test_capabilities_and_health(client):
    caps = client.capabilities()
    assert {"KSampler", "RIFE VFI", "VHS_VideoCombine", "SaveImage"} <= caps.node_classes
    assert "v1-5-pruned-emaonly.safetensors" in caps.models["checkpoints"]
    assert "character_v1.safetensors" in caps.models["loras"]
    assert "mm_sd_v15_v2.ckpt" in caps.models["animatediff_models"]
    assert "rife47.pth" in caps.models["rife"]
    assert client.object_info("NoSuchNode") == {}
    assert client.object_info("RIFE VFI")["RIFE VFI"]["name"] == "RIFE VFI"
    assert client.system_stats()["devices"]


def test_upload_rename_and_download(client, tmp_path: Path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(first)
    Image.new("RGB", (8, 8), (9, 9, 9)).save(second)
    folder = f"up-{new_prompt_id()[:8]}"
    one = client.upload_image(first, subfolder=folder, name="key.png", overwrite=False)
    two = client.upload_image(second, subfolder=folder, name="key.png", overwrite=False)
    assert one.name == "key.png" and two.name != "key.png" and two.name.endswith(".png")
    dest = client.download(OutputFile("", two.name, folder, "input", "images"), tmp_path / "x.bin")
    assert dest.read_bytes() == second.read_bytes()


def test_missing_output_file_is_permanent_and_leaves_nothing(client, tmp_path: Path):
    ghost = OutputFile("8", "nope_00001_.png", "farm/none", "output", "images")
    with pytest.raises(ComfyProtocolError) as caught:
        client.download(ghost, tmp_path / "dl" / "x.png")
    assert not is_transient(caught.value)
    assert list((tmp_path / "dl").iterdir()) == []
    hostile = OutputFile("8", "../../etc/passwd", "", "output", "images")
    with pytest.raises(ComfyProtocolError):  # the server refuses it; dest is ours either way
        client.download(hostile, tmp_path / "dl" / "y.png")
    assert safe_name("../../etc/passwd") == "passwd" and safe_name("..") == "output"
