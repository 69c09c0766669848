"""Contract tests: recorded 400 bodies, queue listings and object_info through the client."""

from __future__ import annotations

import pytest

from shared.errors import PermanentError, ValidationError
from tests.workers.comfyui.transcript import fixtures_root, read_json
from workers.comfyui import (
    ComfyClassRejected,
    ComfyModelRejected,
    ComfyRejected,
    QueueSnapshot,
    capabilities_from_object_info,
)
from workers.comfyui.capabilities import combo_options
from workers.comfyui.client import _needs_any, check_prompt_id
from workers.comfyui.errors import is_transient, rejection_from_body
from workers.workflows import Requirements, missing_on

ROOT = fixtures_root()
CATALOG = read_json(ROOT / "05b_validation_error_catalog.json")


def test_missing_input_names_node_class_and_input():
    body = read_json(ROOT / "05_invalid_missing_input" / "post_prompt_response.json")["body"]
    error = rejection_from_body(body)
    assert isinstance(error, ComfyRejected) and isinstance(error, PermanentError)
    assert not is_transient(error)
    assert "node 1 (EmptyImage) input height" in str(error)
    assert [(e.node_id, e.class_type, e.input_name, e.type) for e in error.errors] == [
        ("1", "EmptyImage", "height", "required_input_missing")
    ]
    assert error.to_dict()["fields"] == {"1.height": error.errors[0].describe()}


def test_unknown_class_is_named():
    body = read_json(ROOT / "04_invalid_unknown_class" / "post_prompt_response.json")["body"]
    error = rejection_from_body(body)
    assert error.error_type == "invalid_prompt" and "NoSuchNode" in str(error)
    assert "#2" in str(error)
    # A class this backend lacks: another backend may have it, so routing is told which.
    assert isinstance(error, ComfyClassRejected) and error.node_class == "NoSuchNode"
    assert error.code == "comfy_node_missing"


def test_a_later_servers_missing_node_type_names_the_class():
    # As later ComfyUI servers answer (execution.py validate_prompt, missing_node_type).
    body = {
        "error": {
            "type": "missing_node_type",
            "message": "Node 'NoSuchNode' not found. The custom node may not be installed.",
            "details": "Node ID '#2'",
            "extra_info": {"node_id": "2", "class_type": "NoSuchNode", "node_title": "NoSuchNode"},
        },
        "node_errors": {},
    }
    assert rejection_from_body(body).node_class == "NoSuchNode"


def test_other_prompt_level_errors_name_no_class():
    body = read_json(ROOT / "04_invalid_unknown_class" / "post_prompt_response.json")["body"]
    body["error"]["type"] = "prompt_no_outputs"
    assert not isinstance(rejection_from_body(body), ComfyClassRejected)


@pytest.mark.parametrize("case", [k for k, v in CATALOG.items() if v["http_status"] == 400])
def test_every_catalogued_400_names_each_failing_node(case):
    body = CATALOG[case]["body"]
    error = rejection_from_body(body)
    assert error.error_type == body["error"]["type"]
    for node_id, entry in body["node_errors"].items():
        assert f"node {node_id} ({entry['class_type']})" in str(error)
        for err in entry["errors"]:
            name = err.get("extra_info", {}).get("input_name")
            if name:
                assert f"input {name}" in str(error)
    assert len(error.errors) == sum(len(e["errors"]) for e in body["node_errors"].values())


def test_missing_models_are_all_listed_at_once():
    written = read_json(ROOT / "17_stage_workflows" / "validation_as_written.json")
    body = written["stage2_animatediff_img2vid"]["as_written"]["body"]
    error = rejection_from_body(body)
    inputs = {(e.class_type, e.input_name) for e in error.errors}
    assert {("CheckpointLoaderSimple", "ckpt_name"), ("LoraLoader", "lora_name")} <= inputs
    assert "ADE_AnimateDiffLoaderGen1" in str(error)


def test_models_the_backend_does_not_list_are_named_for_routing():
    """A backend whose model listing changed since it registered refuses the names routing
    sent it there for: the rejection says which files it lacks, so the stage can move."""
    written = read_json(ROOT / "17_stage_workflows" / "validation_as_written.json")
    error = rejection_from_body(written["stage2_animatediff_img2vid"]["as_written"]["body"])
    assert isinstance(error, ComfyModelRejected) and isinstance(error, ComfyRejected)
    assert error.code == "comfy_model_missing"
    assert sorted(error.missing) == [
        ("animatediff_models", "mm_sd_v15_v2.ckpt"),
        ("checkpoints", "v1-5-pruned-emaonly.safetensors"),
        ("loras", "character_v1.safetensors"),
    ]
    checkpoint = rejection_from_body(CATALOG["value_not_in_list_ckpt"]["body"])
    assert checkpoint.missing == (("checkpoints", "sd15.safetensors"),)
    # Anything else wrong as well would be wrong on every backend: a plain rejection.
    mixed = written["stage1_keyframe_t2i_lora"]["as_written"]["body"]
    too_small = CATALOG["value_smaller_than_min"]["body"]["node_errors"]["1"]
    mixed = {**mixed, "node_errors": {**mixed["node_errors"], "9": too_small}}
    error = rejection_from_body(mixed)
    assert type(error) is ComfyRejected and not hasattr(error, "missing")


def test_accepted_with_node_errors_is_rejected_only_when_a_needed_output_fails():
    body = CATALOG["one_output_ok_one_invalid"]["body"]
    assert body["node_errors"]
    assert _needs_any(body["node_errors"], None)
    assert _needs_any(body["node_errors"], ["4"])
    assert not _needs_any(body["node_errors"], ["3"])
    assert "node 4 (SaveImage) input filename_prefix" in str(rejection_from_body(body))


def test_queue_listing_sorted_by_number():
    log = read_json(ROOT / "14_queue_ops" / "http_log.json")
    listing = next(e for e in log if e["request"].startswith("GET /queue (while"))["body"]
    snapshot = QueueSnapshot.from_body(listing)
    assert snapshot.running == ["89e26556-58de-47c0-8873-317a2b0d7821"]
    numbers = {item[1]: item[0] for item in listing["queue_pending"]}
    assert [numbers[p] for p in snapshot.pending] == sorted(numbers.values())
    assert snapshot.position("0d0c6da5-5590-43da-910e-fb1be9a2afb3") == 0
    assert snapshot.state("89e26556-58de-47c0-8873-317a2b0d7821") == "running"
    assert snapshot.state("nope") is None
    six = {"queue_running": [], "queue_pending": [i + ["extra"] for i in listing["queue_pending"]]}
    assert QueueSnapshot.from_body(six).pending == snapshot.pending


def test_capabilities_from_recorded_object_info():
    info: dict = {}
    for path in (ROOT / "object_info").glob("*.json"):
        if not path.name.startswith("_"):
            info.update(read_json(path))
    caps = capabilities_from_object_info(info)
    assert "RIFE VFI" in caps.node_classes and "VHS_VideoCombine" in caps.node_classes
    assert caps.models["checkpoints"] == {"dummy_sd15.safetensors", "svd/dummy_svd_xt.safetensors"}
    assert caps.models["loras"] == {"dummy_character_v1.safetensors"}
    assert caps.models["animatediff_models"] == {"dummy_mm_sd_v15_v2.ckpt"}
    assert "rife47.pth" in caps.models["rife"]
    assert "vae" not in caps.models  # VAELoader was not recorded
    needs = Requirements({"KSampler"}, {"loras": {"dummy_character_v1.safetensors"}})
    assert missing_on(needs, caps) == []
    assert missing_on(Requirements({"Nope"}, {"loras": {"x.safetensors"}}), caps) == [
        "node class Nope",
        "model loras/x.safetensors",
    ]
    save_video = info["SaveVideo"]["input"]["required"]["format"]
    assert combo_options(save_video) == ["auto", "mp4"]
    assert combo_options(["INT", {"min": 1}]) is None


@pytest.mark.parametrize(
    "bad",
    [
        "farm-job-0001-b91764af",
        "AB114595-653D-479F-B316-BD58505D286C",
        "",
        "ab114595653d479fb316bd58505d286c",
    ],
)
def test_prompt_id_must_be_canonical_uuid(bad):
    with pytest.raises(ValidationError):
        check_prompt_id(bad)
    assert check_prompt_id("ab114595-653d-479f-b316-bd58505d286c")
