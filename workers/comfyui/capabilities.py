"""What a ComfyUI backend can run: node classes and model files, from `/object_info`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Node class -> {input name: model folder}: whose choice lists name that folder's files.
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


@dataclass(frozen=True)
class Capabilities:
    """Node classes a backend offers and the model files it lists, by folder."""

    node_classes: frozenset[str] = frozenset()
    models: Mapping[str, frozenset[str]] = field(default_factory=dict)


def model_folder(node_class: str) -> str | None:
    """The model folder a loader class reads from, if it is one."""
    folders = set(MODEL_INPUTS.get(node_class, {}).values())
    return folders.pop() if len(folders) == 1 else None


def model_named(node_class: str, current_inputs: Any) -> str:
    """The model file a loader node was given, read from an `execution_error`'s
    `current_inputs` (`{input: [value]}`); "" when the node is no loader or names none."""
    if not isinstance(current_inputs, Mapping):
        return ""
    for input_name in MODEL_INPUTS.get(node_class, {}):
        values = current_inputs.get(input_name)
        if isinstance(values, list) and values and isinstance(values[0], str):
            return values[0]
    return ""


def combo_options(spec: Any) -> list[Any] | None:
    """The choice list of an input spec in either encoding, or None if it is not a choice.

    Classic nodes put the list first (`[["a", "b"], {...}]`); V3 nodes use
    `["COMBO", {"options": [...]}]`.
    """
    if not isinstance(spec, list | tuple) or not spec:
        return None
    if isinstance(spec[0], list | tuple):
        return list(spec[0])
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        options = spec[1].get("options")
        return list(options) if isinstance(options, list | tuple) else []
    return None


def input_spec(info: Mapping[str, Any], node_class: str, input_name: str) -> Any:
    """The spec of a required or optional input of a class, or None."""
    inputs = (info.get(node_class) or {}).get("input") or {}
    for section in ("required", "optional"):
        spec = (inputs.get(section) or {}).get(input_name)
        if spec is not None:
            return spec
    return None


def capabilities_from_object_info(info: Mapping[str, Any]) -> Capabilities:
    """Derive Capabilities from a full `/object_info` body: its classes and the choice lists of
    its loaders' model inputs."""
    models: dict[str, set[str]] = {}
    for node_class, inputs in MODEL_INPUTS.items():
        for input_name, folder in inputs.items():
            options = combo_options(input_spec(info, node_class, input_name))
            if options is not None:
                models.setdefault(folder, set()).update(str(option) for option in options)
    return Capabilities(frozenset(info), {k: frozenset(v) for k, v in models.items()})
