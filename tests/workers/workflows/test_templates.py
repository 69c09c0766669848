"""The shipped stage templates: bound with typical parameters, they satisfy the recorded specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workers.workflows.conftest import TYPICAL_PARAMS
from workers.workflows import STAGES, Template, bind, check_graph
from workers.workflows.catalog import Catalog
from workers.workflows.upload import check_bindings

DATA = Path(__file__).parent / "data"


def declared_inputs(catalog: Catalog, node: dict) -> set[str]:
    """Every input name the node's class declares, including per-format extras."""
    return set(catalog.inputs(node["class_type"])) | set(
        catalog.extra_inputs(node["class_type"], node["inputs"])
    )


def test_every_stage_has_a_template(templates):
    assert (
        set(templates)
        == set(STAGES)
        == {
            "keyframe",
            "keyframe_ref",
            "animate",
            "interpolate",
            "animate_svd",
            "upscale",
            "upscale_model",
            "bridge",
        }
    )
    for stage, template in templates.items():
        assert template.stage == stage
        assert template.version >= 1
        assert template.outputs


@pytest.mark.parametrize("stage", STAGES)
def test_bound_template_passes_the_recorded_specs(templates, catalog, stage):
    prompt = bind(templates[stage], TYPICAL_PARAMS[stage], output_key="farm/job-1/s-1/a1")

    assert check_graph(prompt, catalog, strict=True) == []
    for node_id, node in prompt.items():
        assert node["class_type"] in catalog, node_id
        # Stricter than ComfyUI, which drops undeclared constants silently.
        assert set(node["inputs"]) <= declared_inputs(catalog, node), node_id
        required = {n for n, spec in catalog.inputs(node["class_type"]).items() if spec.required}
        assert required <= set(node["inputs"]), node_id


@pytest.mark.parametrize("stage", STAGES)
def test_bindings_and_outputs_point_at_real_inputs(templates, catalog, stage):
    template = templates[stage]
    assert check_bindings(template.graph, template.params, list(template.outputs), catalog) == {}


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_are_saved_under_the_callers_key(templates, stage):
    template = templates[stage]
    prompt = bind(template, TYPICAL_PARAMS[stage], output_key="farm/job-7/scene-3/a2")
    prefixes = [prompt[output.node]["inputs"]["filename_prefix"] for output in template.outputs]
    assert prefixes == [f"farm/job-7/scene-3/a2/{output.name}" for output in template.outputs]


@pytest.mark.parametrize("stage", STAGES)
def test_row_round_trip_through_json(templates, stage):
    row = json.loads(json.dumps(templates[stage].to_row()))
    assert Template.from_row(row) == templates[stage]


def test_expected_output_kinds(templates):
    kinds = {stage: [(o.node, o.kind) for o in t.outputs] for stage, t in templates.items()}
    assert kinds == {
        "keyframe": [("8", "image")],
        "keyframe_ref": [("8", "image")],
        "animate": [("40", "video"), ("41", "frames")],
        "interpolate": [("3", "video"), ("4", "frames")],
        "bridge": [("4", "video"), ("5", "frames")],
        "animate_svd": [("8", "video"), ("9", "frames")],
        "upscale": [("3", "video")],
        "upscale_model": [("5", "video")],
    }


def test_keyframe_with_one_lora_matches_the_reference_workflow(templates):
    reference = json.loads((DATA / "stage1_keyframe_t2i_lora.json").read_text())
    prompt = bind(
        templates["keyframe"],
        {
            "prompt": "1girl, red jacket, standing in a neon city street, night, "
            "cinematic lighting",
            "trigger_words": ["chr_token"],
            "loras": [{"name": "character_v1.safetensors", "strength": 0.8}],
            "seed": 123456789,
        },
        output_key="farm/job-0001",
    )
    (lora_id,) = [k for k, n in prompt.items() if n["class_type"] == "LoraLoader"]
    prompt["2"] = prompt.pop(lora_id)
    del prompt["2"]["_meta"]
    renamed = json.loads(json.dumps(prompt).replace(f'["{lora_id}", ', '["2", '))
    assert renamed == reference
