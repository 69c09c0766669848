"""Uploaded graphs read only Tower's own input folder on a GPU node: loader inputs are checked
at upload (constants and bindings) and again when a stage is bound."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from shared.errors import ValidationError
from workers.workflows import Template, bind, default_allowlist, default_templates, validate_upload
from workers.workflows.loaders import RULE

DATA = Path(__file__).parent / "data"
ANIMATE = json.loads((DATA / "stage2_animatediff_img2vid.json").read_text())  # LoadImage "10"
RIFE = json.loads((DATA / "stage3_rife_x2.json").read_text())  # VHS_LoadImages "1"
IMAGE = {"image": {"type": "str", "required": True, "targets": [["10", "image"]]}}


def refused(graph: dict, bindings: dict) -> dict[str, str]:
    """The fields of the upload's rejection."""
    with pytest.raises(ValidationError) as caught:
        validate_upload(graph, bindings, allowlist=default_allowlist())
    return caught.value.fields


def with_input(graph: dict, node: str, name: str, value) -> dict:
    changed = copy.deepcopy(graph)
    changed[node]["inputs"][name] = value
    return changed


@pytest.mark.parametrize(
    "path",
    [
        "/etc/hostname",
        "../../../../etc/hostname",
        "tower/../../../etc/hostname",
        "keyframe_00001_.png [output]",
        "tower/keyframe.png [output]",
        "job-0001/keyframe.png",
        "C:\\Windows\\win.ini",
    ],
)
def test_a_load_image_constant_outside_towers_folder_is_refused(path):
    assert refused(with_input(ANIMATE, "10", "image", path), {})["10.image"] == RULE


def test_video_and_directory_loaders_are_held_to_the_same_rule(tmp_path):
    video = copy.deepcopy(ANIMATE)
    video["90"] = {
        "class_type": "VHS_LoadVideo",
        "inputs": {"video": "/etc/passwd", "force_rate": 0, "custom_width": 0,
                   "custom_height": 0, "frame_load_cap": 0, "skip_first_frames": 0,
                   "select_every_nth": 1},
    }  # fmt: skip
    assert refused(video, IMAGE)["90.video"] == RULE
    artifact_root = str(tmp_path / "artifacts")
    assert refused(with_input(RIFE, "1", "directory", artifact_root), {})["1.directory"] == RULE


def test_a_loader_fed_by_a_link_is_refused():
    graph = with_input(ANIMATE, "10", "image", ["3", 0])
    assert "not a link" in refused(graph, {})["10.image"]


@pytest.mark.parametrize(
    "binding",
    [
        {"image": {"type": "str", "default": "/etc/shadow", "targets": [["10", "image"]]}},
        {"image": {"type": "str", "default": "tower/x.png", "targets": [["10", "image"]]}},
        {"source": {"type": "str", "required": True, "targets": [["10", "image"]]}},
        {"image": [["10", "image"]]},
    ],
)
def test_only_towers_required_run_time_input_may_bind_a_loader(binding):
    (name,) = binding
    assert "only Tower's run-time inputs" in refused(ANIMATE, binding)[f"bindings.{name}"]


def test_a_binding_to_a_save_prefix_is_refused():
    binding = {
        **IMAGE,
        "prefix": {"type": "str", "default": "x", "targets": [["40", "filename_prefix"]]},
    }
    assert "filename_prefix" in refused(ANIMATE, binding)["bindings.prefix"]


def test_a_placeholder_replaced_at_run_time_must_still_be_a_plain_name():
    graph = with_input(ANIMATE, "10", "image", "/etc/hostname")
    assert refused(graph, IMAGE)["10.image"] == RULE
    assert validate_upload(ANIMATE, IMAGE, allowlist=default_allowlist()).params["image"].required


def test_files_in_towers_folder_are_accepted():
    graph = with_input(ANIMATE, "10", "image", "tower/style/reference.png")
    assert validate_upload(graph, {}, allowlist=default_allowlist()).outputs


@pytest.mark.parametrize(
    "value", ["/etc/hostname", "../../etc/hostname", "tower/../x.png", "tower/x.png [output]"]
)
def test_binding_refuses_a_loader_value_outside_towers_folder(value):
    animate = default_templates()["animate"]
    with pytest.raises(ValidationError) as caught:
        bind(animate, {"image": value, "prompt": "x"}, output_key="jobs/1/scene-1/animate/a1")
    assert caught.value.fields == {"image": f"10.image: {RULE}"}
    prompt = bind(animate, {"image": "tower/p/keyframe.png", "prompt": "x"}, output_key="k")
    assert prompt["10"]["inputs"]["image"] == "tower/p/keyframe.png"


def test_binding_refuses_a_save_outside_the_stage_folder():
    row = default_templates()["keyframe"].to_row()
    row["graph"]["9"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["7", 0], "filename_prefix": "jobs/2/scene-1/keyframe/a1/stolen"},
    }
    with pytest.raises(ValidationError) as caught:
        bind(Template.from_row(row), {"prompt": "x"}, output_key="jobs/1/scene-1/keyframe/a1")
    assert "9.filename_prefix" in next(iter(caught.value.fields.values()))
