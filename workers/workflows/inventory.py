"""Inventory: the node classes and model files a prompt needs, and what a backend lacks of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workers.comfyui.capabilities import MODEL_INPUTS, Capabilities


@dataclass
class Requirements:
    """What a bound prompt needs from a backend: node classes and model files per folder."""

    node_classes: set[str] = field(default_factory=set)
    models: dict[str, set[str]] = field(default_factory=dict)


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


def missing_on(needed: Requirements, capabilities: Capabilities) -> list[str]:
    """What a backend lacks of `needed`, as readable lines ("node class X", "model loras/y")."""
    missing = [
        f"node class {name}"
        for name in sorted(needed.node_classes - set(capabilities.node_classes))
    ]
    for folder in sorted(needed.models):
        present = set(capabilities.models.get(folder, ()))
        missing.extend(f"model {folder}/{name}" for name in sorted(needed.models[folder] - present))
    return missing
