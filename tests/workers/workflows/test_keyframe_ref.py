"""The keyframe_ref template: LoadImage -> ImageScale -> VAEEncode -> KSampler at a partial
denoise, valid on the real server's whole catalogue."""

from __future__ import annotations

import json

from tests.workers.workflows.conftest import FIXTURES, TYPICAL_PARAMS
from workers.workflows import bind, check_graph
from workers.workflows.catalog import Catalog


def test_keyframe_ref_is_valid_on_the_real_servers_catalogue(templates):
    full = Catalog(json.loads((FIXTURES / "object_info_full.json").read_text()))
    prompt = bind(templates["keyframe_ref"], TYPICAL_PARAMS["keyframe_ref"], output_key="t/k/1")
    assert check_graph(prompt, full, strict=True) == []
    by_class = {node["class_type"]: (node_id, node["inputs"]) for node_id, node in prompt.items()}
    sampler = by_class["KSampler"][1]
    assert sampler["denoise"] == 0.55
    assert sampler["latent_image"] == [by_class["VAEEncode"][0], 0]
    assert by_class["VAEEncode"][1]["pixels"] == [by_class["ImageScale"][0], 0]
    assert by_class["ImageScale"][1]["image"] == [by_class["LoadImage"][0], 0]
    assert by_class["LoadImage"][1]["image"] == "tower/job-0001/keyframe.png"
    assert (by_class["ImageScale"][1]["width"], by_class["ImageScale"][1]["height"]) == (512, 288)
    assert any("chr_token" in n["inputs"].get("text", "") for n in prompt.values())
    assert "LoraLoader" in by_class
