"""Inventory: the node classes and model files a prompt needs, and what a backend lacks of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Which constant inputs name a model file, and the ComfyUI model folder it is listed from.
MODEL_INPUTS: dict[str, dict[str, str]] = {
    "CheckpointLoaderSimple": {"ckpt_name": "checkpoints"},
    "CheckpointLoader": {"ckpt_name": "checkpoints"},
    "ImageOnlyCheckpointLoader": {"ckpt_name": "checkpoints"},
    "LoraLoader": {"lora_name": "loras"},
    "LoraLoaderModelOnly": {"lora_name": "loras"},
    "VAELoader": {"vae_name": "vae"},
    "CLIPVisionLoader": {"clip_name": "clip_vision"},
    "ControlNetLoader": {"control_net_name": "controlnet"},
    "UpscaleModelLoader": {"model_name": "upscale_models"},
    "ADE_AnimateDiffLoaderGen1": {"model_name": "animatediff_models"},
    "ADE_LoadAnimateDiffModel": {"model_name": "animatediff_models"},
    "ADE_AnimateDiffLoRALoader": {"name": "animatediff_motion_lora"},
    "RIFE VFI": {"ckpt_name": "rife"},
    "FILM VFI": {"ckpt_name": "film"},
}


@dataclass
class Requirements:
    """What a bound prompt needs from a backend: node classes and model files per folder."""

    node_classes: set[str] = field(default_factory=set)
    models: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Capabilities:
    """What a backend offers (the ComfyUI client builds the same two attributes)."""

    node_classes: set[str] = field(default_factory=set)
    models: dict[str, set[str]] = field(default_factory=dict)


class CapabilitiesLike(Protocol):
    """Anything with a backend's node classes and its models per folder."""

    node_classes: set[str]
    models: dict[str, set[str]]


def requirements(prompt: dict[str, Any]) -> Requirements:
    """Read the node classes and model files an API-format prompt needs."""
    needed = Requirements()
    for node in prompt.values():
        class_type = node.get("class_type")
        if not isinstance(class_type, str):
            continue
        needed.node_classes.add(class_type)
        for input_name, folder in MODEL_INPUTS.get(class_type, {}).items():
            value = node.get("inputs", {}).get(input_name)
            # A linked model name (from a primitive node) cannot be known before execution.
            if isinstance(value, str) and value:
                needed.models.setdefault(folder, set()).add(value)
    return needed


def missing_on(needed: Requirements, capabilities: CapabilitiesLike) -> list[str]:
    """What a backend lacks of `needed`, as readable lines ("node class X", "model loras/y")."""
    missing = [
        f"node class {name}"
        for name in sorted(needed.node_classes - set(capabilities.node_classes))
    ]
    for folder in sorted(needed.models):
        present = set(capabilities.models.get(folder, ()))
        missing.extend(f"model {folder}/{name}" for name in sorted(needed.models[folder] - present))
    return missing


def capabilities_from_object_info(object_info: dict[str, Any]) -> Capabilities:
    """Capabilities from a full GET /object_info answer: its classes and model choice lists."""
    offered = Capabilities(node_classes=set(object_info))
    for class_type, model_inputs in MODEL_INPUTS.items():
        info = object_info.get(class_type)
        if not info:
            continue
        declared = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
        for input_name, folder in model_inputs.items():
            offered.models.setdefault(folder, set()).update(choices_of(declared.get(input_name)))
    return offered


def choices_of(raw: Any) -> list[str]:
    """The allowed values of a classic (`[[...], {}]`) or V3 (`["COMBO", {options}]`) input."""
    if not isinstance(raw, list) or not raw:
        return []
    if isinstance(raw[0], list):
        return [str(value) for value in raw[0]]
    if len(raw) > 1 and isinstance(raw[1], dict):
        return [str(value) for value in raw[1].get("options", [])]
    return []
