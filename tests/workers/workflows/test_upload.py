"""validate_upload(): an exported API workflow becomes a Template, or is rejected clearly."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from shared.errors import ValidationError
from workers.workflows import bind, default_allowlist, default_templates, validate_upload
from workers.workflows.library import STAGES
from workers.workflows.loaders import RULE as LOADER_RULE

DATA = Path(__file__).parent / "data"
# The reference keyframe workflow (validated by the real server), as a user would export it.
EXPORTED = json.loads((DATA / "stage1_keyframe_t2i_lora.json").read_text())
BINDINGS = {
    "prompt": {"type": "str", "required": True, "targets": [["3", "text"]]},
    "seed": [["6", "seed"]],
    "steps": [["6", "steps"]],
    "loras": {"type": "loras", "default": [], "anchor": "2"},
}


def graph() -> dict:
    """A fresh copy of the exported reference graph."""
    return copy.deepcopy(EXPORTED)


def rejection(graph, bindings=None, **kwargs) -> ValidationError:
    """The ValidationError validate_upload raises for this upload (failing if it accepts it)."""
    kwargs.setdefault("allowlist", default_allowlist())
    with pytest.raises(ValidationError) as caught:
        validate_upload(graph, BINDINGS if bindings is None else bindings, **kwargs)
    return caught.value


def test_valid_upload_becomes_a_bindable_template():
    template = validate_upload(graph(), BINDINGS, allowlist=default_allowlist(), stage="keyframe")

    assert template.params["seed"].type == "int" and template.params["seed"].default == 123456789
    assert template.params["steps"].default == 25
    assert [(o.node, o.kind) for o in template.outputs] == [("8", "image")]
    prompt = bind(
        template,
        {"prompt": "1girl", "seed": 7, "loras": [{"name": "extra.safetensors"}]},
        output_key="farm/job-9/a1",
    )
    assert prompt["6"]["inputs"]["seed"] == 7
    assert prompt["8"]["inputs"]["filename_prefix"] == "farm/job-9/a1/8"
    (extra,) = [k for k, n in prompt.items() if n["inputs"].get("lora_name") == "extra.safetensors"]
    assert prompt[extra]["inputs"]["model"] == ["2", 0]
    assert prompt["6"]["inputs"]["model"] == [extra, 0]


@pytest.mark.parametrize("stage", STAGES)
def test_the_default_templates_pass_upload_validation(stage):
    row = default_templates()[stage].to_row()
    template = validate_upload(
        row["graph"], row["bindings"], allowlist=default_allowlist(), outputs=row["outputs"]
    )
    assert template.params == default_templates()[stage].params


def test_ui_export_is_rejected_with_a_hint_to_export_api():
    ui_export = {"last_node_id": 8, "nodes": [{"id": 1, "type": "KSampler"}], "links": [[1, 1, 0]]}
    error = rejection(ui_export)
    assert "Export (API)" in error.message
    assert "Export (API)" in error.fields["graph"]


def test_link_with_a_number_node_id_is_rejected():
    bad = graph()
    bad["6"]["inputs"]["model"] = [2, 0]
    error = rejection(bad)
    assert list(error.fields) == ["6.model"]
    assert 'string node id such as ["2", 0]' in error.fields["6.model"]


def test_link_to_a_missing_node_is_rejected():
    bad = graph()
    bad["7"]["inputs"]["samples"] = ["66", 0]
    assert "missing node '66'" in rejection(bad).fields["7.samples"]


def test_binding_to_a_missing_node_is_rejected():
    error = rejection(graph(), {**BINDINGS, "seed": [["60", "seed"]]})
    assert error.fields == {"bindings.seed": "node '60' does not exist"}


def test_binding_to_an_input_the_node_lacks_is_rejected():
    error = rejection(graph(), {**BINDINGS, "seed": [["6", "noise_seed"]]})
    assert error.fields == {"bindings.seed": "node '6' (KSampler) has no input 'noise_seed'"}


def test_binding_a_value_to_a_link_input_is_rejected():
    error = rejection(
        graph(), {**BINDINGS, "model": {"type": "str", "targets": [["6", "model"]], "default": "x"}}
    )
    assert "takes a MODEL link" in error.fields["bindings.model"]


def test_lora_anchor_must_output_model_and_clip():
    error = rejection(
        graph(), {**BINDINGS, "loras": {"type": "loras", "default": [], "anchor": "5"}}
    )
    assert "does not output MODEL and CLIP" in error.fields["bindings.loras"]


def test_malformed_binding_is_rejected():
    error = rejection(
        graph(), {**BINDINGS, "seed": {"type": "integer", "targets": [["6", "seed"]]}}
    )
    assert "type must be one of" in error.fields["bindings.seed"]


def test_class_outside_the_allowlist_is_rejected():
    bad = graph()
    bad["9"] = {"class_type": "VHS_LoadImagesPath", "inputs": {"directory": "/etc"}}
    error = rejection(bad)
    assert error.fields == {
        "9.class_type": "node class 'VHS_LoadImagesPath' is not allowed on this farm",
        "9.directory": LOADER_RULE,
    }
    assert "VHS_LoadImagesPath" in error.message


def test_operator_allowlist_is_honoured():
    error = rejection(graph(), allowlist=default_allowlist() - {"LoraLoader"})
    assert list(error.fields) == ["2.class_type"]


def test_graph_without_an_output_node_is_rejected():
    bad = graph()
    del bad["8"]
    error = rejection(bad)
    assert "no output node" in error.fields["graph"]


def test_graph_with_only_a_preview_has_no_farm_output():
    bad = graph()
    bad["8"] = {"class_type": "PreviewImage", "inputs": {"images": ["7", 0]}}
    error = rejection(bad)
    assert "no node that saves files" in error.fields["outputs"]


def test_values_the_specs_reject_are_reported_per_input():
    bad = graph()
    bad["6"]["inputs"]["steps"] = 0
    bad["6"]["inputs"]["scheduler"] = "no_such"
    del bad["5"]["inputs"]["height"]
    fields = rejection(bad).fields
    assert fields["6.steps"] == "value 0 is smaller than the minimum 1"
    assert fields["6.scheduler"].startswith("value 'no_such' not in")
    assert fields["5.height"] == "required input is missing"


def test_link_type_mismatch_is_rejected():
    bad = graph()
    bad["6"]["inputs"]["positive"] = ["5", 0]
    assert rejection(bad).fields["6.positive"] == (
        "expects CONDITIONING but output 0 of EmptyLatentImage is LATENT"
    )


def test_link_cycle_is_rejected():
    bad = graph()
    bad["5"] = {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["6", 0], "amount": 2}}
    assert "cycle" in next(iter(rejection(bad).fields.values()))


def test_allowlisted_class_without_a_recorded_spec_is_checked_against_its_own_inputs():
    # An operator's custom node pack: allowed, but not in the recorded catalogue.
    allowlist = default_allowlist() | {"StudioTint"}
    custom = graph()
    custom["9"] = {"class_type": "StudioTint", "inputs": {"model": ["2", 0], "b1": 1.3}}
    custom["6"]["inputs"]["model"] = ["9", 0]
    template = validate_upload(custom, {**BINDINGS, "b1": [["9", "b1"]]}, allowlist=allowlist)
    assert template.params["b1"].type == "float" and template.params["b1"].default == 1.3

    error = rejection(custom, {**BINDINGS, "b2": [["9", "b2"]]}, allowlist=allowlist)
    assert error.fields == {"bindings.b2": "node '9' (StudioTint) has no input 'b2'"}


def test_declared_outputs_must_be_output_nodes():
    error = rejection(graph(), outputs=[{"node": "7", "kind": "image", "name": "x"}])
    assert error.fields == {
        "outputs.0": "node '7' (VAEDecode) is not an output node",
        "8.filename_prefix": "this node saves files but is not a declared output (Tower "
        "chooses where declared outputs are saved)",
    }


@pytest.mark.parametrize("bad", [None, [], {}, "text", {"1": {"inputs": {}}}])
def test_non_graphs_are_rejected(bad):
    error = rejection(bad)
    assert error.fields


def test_default_allowlist_covers_the_templates_and_leaves_out_host_path_nodes():
    allowlist = default_allowlist()
    used = {n["class_type"] for t in default_templates().values() for n in t.graph.values()}
    assert used | {"LoraLoader"} <= allowlist
    assert not {"VHS_LoadImagesPath", "VHS_LoadVideoPath", "CheckpointSave"} & allowlist


# The loader input of each reference workflow, bound to the run-time input Tower fills.
RUNTIME_BINDINGS = {
    "stage1_keyframe_t2i_lora": {},
    "stage2_animatediff_img2vid": {"image": {"type": "str", "required": True,
                                             "targets": [["10", "image"]]}},
    "stage3_rife_x2": {"frames_dir": {"type": "str", "required": True,
                                      "targets": [["1", "directory"]]}},
    "stage4_svd_img2vid": {"image": {"type": "str", "required": True,
                                     "targets": [["2", "image"]]}},
}  # fmt: skip


@pytest.mark.parametrize("path", sorted(DATA.glob("*.json")), ids=lambda p: p.stem)
def test_the_reference_workflows_are_accepted(path):
    graph = json.loads(path.read_text())
    template = validate_upload(graph, RUNTIME_BINDINGS[path.stem], allowlist=default_allowlist())
    assert template.outputs


@pytest.mark.parametrize("fmt", ["video/8bit-png", "video/16bit-png"])
def test_video_combine_writing_an_image_sequence_is_rejected(fmt):
    # The real node reports the sequence as one entry named by its pattern (seq_00001.%03d.png),
    # which no file has: the stage would render, then fail to download its output.
    interp = json.loads((DATA / "stage3_rife_x2.json").read_text())
    interp["3"]["inputs"]["format"] = fmt
    error = rejection(interp, RUNTIME_BINDINGS["stage3_rife_x2"])
    assert list(error.fields) == ["outputs.0"]
    assert fmt in error.fields["outputs.0"] and "SaveImage" in error.fields["outputs.0"]


def test_video_combine_writing_to_temp_is_rejected():
    interp = json.loads((DATA / "stage3_rife_x2.json").read_text())
    interp["3"]["inputs"]["save_output"] = False
    error = rejection(interp, RUNTIME_BINDINGS["stage3_rife_x2"])
    assert error.fields == {"outputs.0": "node '3' must have save_output true"}


def test_an_image_sequence_format_chosen_through_a_parameter_is_refused_at_binding():
    # The upload check sees only a constant format; a bound one chose a PNG sequence at submit.
    interp = json.loads((DATA / "stage3_rife_x2.json").read_text())
    bindings = {
        **RUNTIME_BINDINGS["stage3_rife_x2"],
        "container": {"type": "str", "default": "video/h264-mp4", "targets": [["3", "format"]]},
    }
    template = validate_upload(interp, bindings, allowlist=default_allowlist())
    params = {"frames_dir": "tower/frames", "container": "video/16bit-png"}
    with pytest.raises(ValidationError) as refused:
        bind(template, params, output_key="farm/job-1/interpolate/a1")
    assert list(refused.value.fields) == ["container"]
    assert "SaveImage" in refused.value.fields["container"]
    bind(template, {**params, "container": "video/h264-mp4"}, output_key="farm/job-1/interp/a1")
