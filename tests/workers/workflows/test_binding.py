"""bind(): parameter checking, LoRA chain expansion, trigger words, RIFE frame rate, output keys."""

from __future__ import annotations

import copy

import pytest

from shared.errors import ValidationError
from tests.workers.workflows.conftest import TYPICAL_PARAMS
from workers.workflows import bind


def lora_chain(prompt: dict) -> list[str]:
    """LoraLoader node ids in chain order, starting from the one fed by the checkpoint."""
    loaders = {k: n for k, n in prompt.items() if n["class_type"] == "LoraLoader"}
    chain, source = [], "1"
    while True:
        nxt = [k for k, n in loaders.items() if n["inputs"]["model"] == [source, 0]]
        if not nxt:
            return chain
        assert len(nxt) == 1
        assert loaders[nxt[0]]["inputs"]["clip"] == [source, 1]
        chain.append(nxt[0])
        source = nxt[0]


LORAS = [
    {"name": "hero.safetensors", "strength": 0.8},
    {"name": "sidekick.safetensors", "strength": 0.6, "strength_clip": 0.5},
    {"name": "style/ink.safetensors"},
]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_keyframe_lora_chain(templates, count):
    params = {**TYPICAL_PARAMS["keyframe"], "loras": LORAS[:count]}
    prompt = bind(templates["keyframe"], params, output_key="k")

    chain = lora_chain(prompt)
    assert len(chain) == count
    assert [prompt[k]["inputs"]["lora_name"] for k in chain] == [x["name"] for x in LORAS[:count]]
    last = chain[-1] if chain else "1"
    assert prompt["6"]["inputs"]["model"] == [last, 0]
    assert prompt["3"]["inputs"]["clip"] == [last, 1]
    assert prompt["4"]["inputs"]["clip"] == [last, 1]
    assert prompt["7"]["inputs"]["vae"] == ["1", 2]
    # Nothing but the first loader reads the checkpoint's MODEL or CLIP any more.
    readers = [
        k for k, n in prompt.items() for v in n["inputs"].values() if v in (["1", 0], ["1", 1])
    ]
    assert readers == (chain[:1] * 2 if chain else ["3", "4", "6"])


def test_lora_strengths(templates):
    prompt = bind(
        templates["keyframe"], {**TYPICAL_PARAMS["keyframe"], "loras": LORAS}, output_key="k"
    )
    strengths = [
        (prompt[k]["inputs"]["strength_model"], prompt[k]["inputs"]["strength_clip"])
        for k in lora_chain(prompt)
    ]
    assert strengths == [(0.8, 0.8), (0.6, 0.5), (1.0, 1.0)]


def test_animate_lora_chain_feeds_the_motion_loader(templates):
    params = {**TYPICAL_PARAMS["animate"], "loras": LORAS}
    prompt = bind(templates["animate"], params, output_key="k")
    last = lora_chain(prompt)[-1]
    assert prompt["21"]["inputs"]["model"] == [last, 0]
    assert prompt["30"]["inputs"]["model"] == ["21", 0]
    assert prompt["3"]["inputs"]["clip"] == prompt["4"]["inputs"]["clip"] == [last, 1]


def test_trigger_words_are_prepended_to_the_positive_prompt_only(templates):
    params = {**TYPICAL_PARAMS["keyframe"], "prompt": "1girl", "trigger_words": ["tok_a", "tok b"]}
    prompt = bind(templates["keyframe"], params, output_key="k")
    assert prompt["3"]["inputs"]["text"] == "tok_a, tok b, 1girl"
    assert not prompt["4"]["inputs"]["text"].startswith("tok_a")

    plain = bind(templates["keyframe"], {"prompt": "1girl"}, output_key="k")
    assert plain["3"]["inputs"]["text"] == "1girl"


@pytest.mark.parametrize(("multiplier", "fps", "rate"), [(2, 8, 16.0), (4, 8, 32.0), (4, 12, 48.0)])
def test_rife_frame_rate_follows_the_multiplier(templates, multiplier, fps, rate):
    params = {"frames_dir": "tower/job-1_frames", "multiplier": multiplier, "fps": fps}
    prompt = bind(templates["interpolate"], params, output_key="k")
    assert prompt["2"]["inputs"]["multiplier"] == multiplier
    assert prompt["3"]["inputs"]["frame_rate"] == rate
    rife = prompt["2"]["inputs"]
    assert len(rife) == 10 and rife["frames"] == ["1", 0]


def test_rife_multiplier_other_than_2_or_4_is_rejected(templates):
    with pytest.raises(ValidationError) as caught:
        bind(templates["interpolate"], {"frames_dir": "tower/d", "multiplier": 3}, output_key="k")
    assert "multiplier" in caught.value.fields


def test_one_parameter_feeds_several_inputs(templates):
    prompt = bind(templates["animate_svd"], {"image": "tower/a.png", "fps": 12}, output_key="k")
    assert prompt["3"]["inputs"]["fps"] == 12
    assert prompt["7"]["inputs"]["fps"] == 12


def test_unknown_parameter_is_named(templates):
    with pytest.raises(ValidationError) as caught:
        bind(templates["animate_svd"], {"image": "tower/a.png", "prompt": "x"}, output_key="k")
    assert caught.value.fields == {"prompt": "unknown parameter"}
    assert "prompt" in caught.value.message


def test_missing_required_parameter_is_named(templates):
    with pytest.raises(ValidationError) as caught:
        bind(templates["animate"], {"prompt": "x"}, output_key="k")
    assert caught.value.fields == {"image": "required parameter is missing"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"steps": "20"}, "steps"),
        ({"seed": True}, "seed"),
        ({"cfg": "high"}, "cfg"),
        ({"loras": [{"strength": 1.0}]}, "loras"),
        ({"loras": [{"name": "a.safetensors", "weight": 1}]}, "loras"),
        ({"trigger_words": [1]}, "trigger_words"),
        ({"frames": 4097}, "frames"),  # RepeatImageBatch takes up to 4096
        ({"denoise": 1.5}, "denoise"),
        ({"steps": 0}, "steps"),
        ({"sampler_name": "no_such_sampler"}, "sampler_name"),
        ({"context_overlap": -1}, "context_overlap"),
        ({"loras": [{"name": "a.safetensors", "strength": 200}]}, "loras"),
        ({"fps": 0}, "fps"),
    ],
)
def test_bad_values_are_rejected_by_parameter_name(templates, params, field):
    with pytest.raises(ValidationError) as caught:
        bind(templates["animate"], {**TYPICAL_PARAMS["animate"], **params}, output_key="k")
    assert list(caught.value.fields) == [field]


def test_integral_floats_are_accepted_for_integers(templates):
    prompt = bind(templates["keyframe"], {"prompt": "x", "steps": 30.0}, output_key="k")
    assert prompt["6"]["inputs"]["steps"] == 30 and isinstance(prompt["6"]["inputs"]["steps"], int)


@pytest.mark.parametrize("key", ["", "/abs/path", "../escape", "farm/../x", "a//b", "a b", "a\\b"])
def test_output_key_must_be_a_plain_relative_folder(templates, key):
    with pytest.raises(ValidationError) as caught:
        bind(templates["keyframe"], {"prompt": "x"}, output_key=key)
    assert "output_key" in caught.value.fields


def test_binding_leaves_the_template_untouched(templates):
    template = templates["keyframe"]
    before = copy.deepcopy(template.graph)
    bind(template, {**TYPICAL_PARAMS["keyframe"], "loras": LORAS}, output_key="k")
    assert template.graph == before
