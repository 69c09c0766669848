"""A backend keeps its last checkpoint and motion module loaded: only a switch costs a load."""

from __future__ import annotations

import threading

from comfy_emulator.model_loads import LoadedModels, wanted_models


def prompt_with(checkpoint: str, motion: str | None = None) -> dict:
    """A prompt naming a checkpoint (and a motion module) in its loader nodes."""
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}}}
    if motion:
        prompt["2"] = {"class_type": "ADE_LoadAnimateDiffModel", "inputs": {"model_name": motion}}
    return prompt


def test_a_prompt_names_its_checkpoint_and_motion_module():
    assert wanted_models(prompt_with("a.safetensors", "m.ckpt")) == {
        "checkpoint": "a.safetensors",
        "motion_module": "m.ckpt",
    }
    assert wanted_models({"1": {"class_type": "SaveImage", "inputs": {}}}) == {}


def test_only_a_switch_costs_a_load():
    models = LoadedModels(load_seconds=0.0)
    never = threading.Event()
    for prompt in (
        prompt_with("a.safetensors"),
        prompt_with("a.safetensors"),  # loaded already
        prompt_with("a.safetensors", "m.ckpt"),  # the motion module is new
        {"9": {"class_type": "SaveImage", "inputs": {}}},  # loads nothing, unloads nothing
        prompt_with("b.safetensors", "m.ckpt"),  # a checkpoint switch
    ):
        models.load_for(prompt, never)
    snapshot = models.snapshot()
    assert snapshot["loads"] == 3
    assert snapshot["loaded"] == {"checkpoint": "b.safetensors", "motion_module": "m.ckpt"}
