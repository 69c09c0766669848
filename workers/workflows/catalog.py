"""Node catalog: the input and output specs of ComfyUI node classes, as /object_info gives them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class InputSpec:
    """One declared input: its type (a name, or the allowed values of a choice) and options."""

    name: str
    type: str | tuple[Any, ...]
    options: dict[str, Any]
    required: bool

    @property
    def is_choice(self) -> bool:
        """True when the input takes one value out of a list (a combo widget)."""
        return isinstance(self.type, tuple)


def parse_input(name: str, raw: list[Any], *, required: bool) -> InputSpec:
    """Turn one /object_info input entry into an InputSpec (classic and V3 combos alike)."""
    kind = raw[0] if raw else "*"
    options = raw[1] if len(raw) > 1 and isinstance(raw[1], dict) else {}
    if isinstance(kind, list):
        return InputSpec(name, tuple(kind), options, required)
    if kind == "COMBO" and isinstance(options.get("options"), list):
        return InputSpec(name, tuple(options["options"]), options, required)
    return InputSpec(name, str(kind), options, required)


class Catalog:
    """Specs of the node classes a ComfyUI server offers, keyed by class name."""

    def __init__(self, classes: dict[str, dict[str, Any]]) -> None:
        self._classes = classes

    def __contains__(self, class_type: object) -> bool:
        return class_type in self._classes

    @property
    def class_names(self) -> frozenset[str]:
        """Every class this catalog describes."""
        return frozenset(self._classes)

    def inputs(self, class_type: str) -> dict[str, InputSpec]:
        """Declared required and optional inputs of a class (hidden ones are server-filled)."""
        info = self._classes[class_type]["input"]
        specs: dict[str, InputSpec] = {}
        for section in ("required", "optional"):
            for name, raw in info.get(section, {}).items():
                specs[name] = parse_input(name, raw, required=section == "required")
        return specs

    def extra_inputs(self, class_type: str, inputs: dict[str, Any]) -> dict[str, InputSpec]:
        """Inputs that depend on a choice made in the node, such as VHS_VideoCombine's per-format
        pix_fmt and crf (declared under the `formats` option of that choice)."""
        extras: dict[str, InputSpec] = {}
        for spec in self.inputs(class_type).values():
            formats = spec.options.get("formats")
            chosen = inputs.get(spec.name)
            if not isinstance(formats, dict) or not isinstance(chosen, str):
                continue
            for entry in formats.get(chosen, []):
                if isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], str):
                    extras[entry[0]] = parse_input(entry[0], entry[1:], required=False)
        return extras

    def accepts(self, class_type: str, input_name: str, inputs: dict[str, Any]) -> bool:
        """True when a node of this class (with these inputs) declares `input_name`."""
        return input_name in self.inputs(class_type) or input_name in self.extra_inputs(
            class_type, inputs
        )

    def outputs(self, class_type: str) -> list[str]:
        """The output types of a class, in slot order."""
        return list(self._classes[class_type]["output"])

    def is_output_node(self, class_type: str) -> bool:
        """True for classes ComfyUI executes as outputs (savers, previews)."""
        return bool(self._classes[class_type].get("output_node"))

    @classmethod
    def from_object_info(cls, object_info: dict[str, Any]) -> Catalog:
        """A catalog from a server's GET /object_info answer (all classes or a few)."""
        return cls({name: info for name, info in object_info.items() if "input" in info})


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The specs recorded from the reference ComfyUI server and node packs (shipped as data)."""
    doc = json.loads((DATA_DIR / "object_info.json").read_text(encoding="utf-8"))
    return Catalog(doc["classes"])
