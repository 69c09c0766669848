"""What a ComfyUI backend can run: node classes and model files, from `/object_info`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Model folder -> (node class, input name) pairs whose choice lists name that folder's files.
MODEL_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "checkpoints": (
        ("CheckpointLoaderSimple", "ckpt_name"),
        ("ImageOnlyCheckpointLoader", "ckpt_name"),
        ("CheckpointLoader", "ckpt_name"),
    ),
    "loras": (("LoraLoader", "lora_name"), ("LoraLoaderModelOnly", "lora_name")),
    "animatediff_models": (
        ("ADE_AnimateDiffLoaderGen1", "model_name"),
        ("ADE_LoadAnimateDiffModel", "model_name"),
    ),
    "rife": (("RIFE VFI", "ckpt_name"),),
    "vae": (("VAELoader", "vae_name"),),
}


@dataclass(frozen=True)
class Capabilities:
    """Node classes a backend offers and the model files it has, by folder."""

    node_classes: frozenset[str]
    models: dict[str, frozenset[str]] = field(default_factory=dict)

    def missing(
        self, node_classes: Iterable[str] = (), models: Mapping[str, Iterable[str]] | None = None
    ) -> list[str]:
        """What of the given needs this backend lacks, as readable strings (empty = eligible)."""
        lacking = [f"node {name}" for name in sorted(set(node_classes) - self.node_classes)]
        for folder, names in sorted((models or {}).items()):
            have = self.models.get(folder, frozenset())
            lacking += [f"{folder}/{name}" for name in sorted(set(names) - have)]
        return lacking


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
    """Derive Capabilities from a full `/object_info` body."""
    models: dict[str, frozenset[str]] = {}
    for folder, pairs in MODEL_INPUTS.items():
        names: set[str] = set()
        present = False
        for node_class, input_name in pairs:
            options = combo_options(input_spec(info, node_class, input_name))
            if options is not None:
                present = True
                names.update(str(option) for option in options)
        if present:
            models[folder] = frozenset(names)
    return Capabilities(frozenset(info), models)
