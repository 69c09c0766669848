"""requirements() and missing_on(): what a prompt needs and what a backend lacks."""

from __future__ import annotations

from types import SimpleNamespace

from tests.workers.workflows.conftest import TYPICAL_PARAMS
from workers.workflows import (
    Capabilities,
    bind,
    capabilities_from_object_info,
    missing_on,
    requirements,
)


def bound(templates, stage, **params):
    """The stage template bound with typical parameters, overridden by `params`."""
    return bind(templates[stage], {**TYPICAL_PARAMS[stage], **params}, output_key="k")


def test_requirements_per_stage(templates):
    keyframe = requirements(
        bound(templates, "keyframe", loras=[{"name": "a.safetensors"}, {"name": "b.safetensors"}])
    )
    assert keyframe.models == {
        "checkpoints": {"v1-5-pruned-emaonly.safetensors"},
        "loras": {"a.safetensors", "b.safetensors"},
    }
    assert {
        "CheckpointLoaderSimple",
        "LoraLoader",
        "KSampler",
        "SaveImage",
    } <= keyframe.node_classes

    animate = requirements(bound(templates, "animate", motion_module="mm_v3.ckpt", loras=[]))
    assert animate.models == {
        "checkpoints": {"v1-5-pruned-emaonly.safetensors"},
        "animatediff_models": {"mm_v3.ckpt"},
    }
    assert "LoraLoader" not in animate.node_classes
    assert {"ADE_AnimateDiffLoaderGen1", "VHS_VideoCombine"} <= animate.node_classes

    assert requirements(bound(templates, "interpolate")).models == {"rife": {"rife47.pth"}}
    svd = requirements(bound(templates, "animate_svd"))
    assert svd.models == {"checkpoints": {"svd_xt.safetensors"}}
    assert svd.node_classes == {
        "ImageOnlyCheckpointLoader", "LoadImage", "SVD_img2vid_Conditioning",
        "VideoLinearCFGGuidance", "KSampler", "VAEDecode", "CreateVideo", "SaveVideo", "SaveImage",
    }  # fmt: skip


def test_linked_model_names_are_not_counted():
    prompt = {
        "1": {"class_type": "PrimitiveString", "inputs": {"value": "x.safetensors"}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ["1", 0]}},
    }
    assert requirements(prompt).models == {}


def test_recorded_backend_lacks_the_real_model_files(templates, recorded_backend):
    prompt = bound(templates, "animate")
    assert missing_on(requirements(prompt), recorded_backend) == [
        "model animatediff_models/mm_sd_v15_v2.ckpt",
        "model checkpoints/v1-5-pruned-emaonly.safetensors",
        "model loras/character_v1.safetensors",
    ]


def test_recorded_backend_runs_templates_bound_to_its_placeholders(templates, recorded_backend):
    placeholders = {
        "keyframe": {
            "checkpoint": "dummy_sd15.safetensors",
            "loras": [{"name": "dummy_character_v1.safetensors"}],
        },
        "animate": {
            "checkpoint": "dummy_sd15.safetensors",
            "motion_module": "dummy_mm_sd_v15_v2.ckpt",
            "loras": [{"name": "dummy_character_v1.safetensors"}],
        },
        "interpolate": {},
        "animate_svd": {"checkpoint": "svd/dummy_svd_xt.safetensors"},
    }
    for stage, params in placeholders.items():
        assert missing_on(requirements(bound(templates, stage, **params)), recorded_backend) == []


def test_missing_node_classes_are_named(templates, recorded_backend):
    without_vhs = SimpleNamespace(
        node_classes=frozenset(c for c in recorded_backend.node_classes if "VHS" not in c),
        models=recorded_backend.models,
    )
    assert missing_on(requirements(bound(templates, "interpolate")), without_vhs) == [
        "node class VHS_LoadImages",
        "node class VHS_VideoCombine",
    ]


def test_empty_backend_lacks_everything(templates):
    lacking = missing_on(requirements(bound(templates, "interpolate")), Capabilities())
    assert lacking == [
        "node class ImageFromBatch",
        "node class RIFE VFI",
        "node class SaveImage",
        "node class VHS_LoadImages",
        "node class VHS_VideoCombine",
        "model rife/rife47.pth",
    ]


def test_capabilities_read_both_choice_encodings():
    object_info = {
        "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["a.safetensors"], {}]}}},
        "ImageOnlyCheckpointLoader": {
            "input": {"required": {"ckpt_name": ["COMBO", {"options": ["svd.safetensors"]}]}}
        },
    }
    offered = capabilities_from_object_info(object_info)
    assert offered.models == {"checkpoints": {"a.safetensors", "svd.safetensors"}}
    assert offered.node_classes == set(object_info)
