"""Template: an API-format graph with named parameter bindings, expected outputs and a version."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from shared.errors import ValidationError

PARAM_TYPES = ("int", "float", "str", "bool", "words", "loras")
OUTPUT_KINDS = ("image", "video", "frames")
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STEM_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class Param:
    """A named parameter and the node inputs it feeds.

    `words` values are prepended ("a, b, " + text) to string targets; `loras` values insert a
    LoraLoader chain after the `anchor` node's MODEL (0) and CLIP (1) outputs; `times` names a
    numeric parameter this one is multiplied by (fps x RIFE multiplier).
    """

    name: str
    type: str
    targets: tuple[tuple[str, str], ...] = ()
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    times: str | None = None
    anchor: str | None = None

    def to_row(self) -> dict[str, Any]:
        """JSON form, leaving out unset fields."""
        row: dict[str, Any] = {"type": self.type}
        if self.targets:
            row["targets"] = [list(target) for target in self.targets]
        row["required"] = self.required
        if not self.required:
            row["default"] = copy.deepcopy(self.default)
        for key in ("min", "max", "times", "anchor"):
            if getattr(self, key) is not None:
                row[key] = getattr(self, key)
        if self.choices is not None:
            row["choices"] = list(self.choices)
        return row


@dataclass(frozen=True)
class Output:
    """An output node the stage must see produce files of `kind`, saved as `<key>/<name>`."""

    node: str
    kind: str
    name: str

    def to_row(self) -> dict[str, str]:
        """JSON form."""
        return {"node": self.node, "kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class Template:
    """A versioned stage workflow: API graph, parameter bindings and expected outputs."""

    stage: str
    version: int
    graph: dict[str, Any]
    params: dict[str, Param]
    outputs: tuple[Output, ...]
    description: str = ""

    def defaults(self) -> dict[str, Any]:
        """Default value of every optional parameter."""
        return {p.name: copy.deepcopy(p.default) for p in self.params.values() if not p.required}

    def to_row(self) -> dict[str, Any]:
        """A JSON-serialisable dict for the Workflow table (graph, bindings, outputs, version)."""
        return {
            "stage": self.stage,
            "version": self.version,
            "description": self.description,
            "graph": copy.deepcopy(self.graph),
            "bindings": {name: param.to_row() for name, param in self.params.items()},
            "outputs": [output.to_row() for output in self.outputs],
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Template:
        """Rebuild a template from `to_row()` output.

        :raises ValidationError: when the row is malformed, with `fields` naming each problem.
        """
        fields: dict[str, str] = {}
        if not isinstance(row, dict):
            raise ValidationError(
                "a workflow row must be an object", fields={"row": "not an object"}
            )
        stage, version, graph = row.get("stage"), row.get("version"), row.get("graph")
        if not isinstance(stage, str) or not stage:
            fields["stage"] = "must be a non-empty string"
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            fields["version"] = "must be a positive integer"
        if not isinstance(graph, dict):
            fields["graph"] = "must be an object"
        params: dict[str, Param] = {}
        bindings = row.get("bindings", {})
        if not isinstance(bindings, dict):
            fields["bindings"] = "must be an object of parameter name to binding"
            bindings = {}
        for name, raw in bindings.items():
            try:
                params[name] = parse_param(name, raw)
            except ValueError as exc:
                fields[f"bindings.{name}"] = str(exc)
        outputs: list[Output] = []
        raw_outputs = row.get("outputs", [])
        if not isinstance(raw_outputs, list):
            raw_outputs, fields["outputs"] = [], "must be a list"
        for index, raw in enumerate(raw_outputs):
            try:
                outputs.append(parse_output(raw))
            except ValueError as exc:
                fields[f"outputs.{index}"] = str(exc)
        if fields:
            raise ValidationError("the workflow row is malformed", fields=fields)
        return cls(
            stage=stage,
            version=version,
            graph=copy.deepcopy(graph),
            params=params,
            outputs=tuple(outputs),
            description=str(row.get("description") or ""),
        )


def parse_param(name: str, raw: Any) -> Param:
    """Parse one binding (`{"type", "targets", "required"|"default", ...}`).

    :raises ValueError: naming what is wrong.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError("parameter names are letters, digits and underscores")
    if not isinstance(raw, dict):
        raise ValueError("a binding is an object with type and targets")
    unknown = set(raw) - {"type", "targets", "required", "default", "choices", "min", "max",
                          "times", "anchor"}  # fmt: skip
    if unknown:
        raise ValueError(f"unknown binding keys: {', '.join(sorted(unknown))}")
    kind = raw.get("type")
    if kind not in PARAM_TYPES:
        raise ValueError(f"type must be one of {', '.join(PARAM_TYPES)}")
    targets = parse_targets(raw.get("targets", []))
    if kind == "loras":
        if not isinstance(raw.get("anchor"), str):
            raise ValueError("a loras binding needs an anchor node id (the checkpoint loader)")
    elif not targets:
        raise ValueError("a binding needs at least one [node id, input name] target")
    choices = raw.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise ValueError("choices must be a list")
    for key in ("min", "max"):
        if raw.get(key) is not None and not isinstance(raw[key], int | float):
            raise ValueError(f"{key} must be a number")
    param = Param(
        name=name,
        type=kind,
        targets=targets,
        required=bool(raw.get("required", False)),
        default=raw.get("default"),
        choices=tuple(choices) if choices is not None else None,
        min=raw.get("min"),
        max=raw.get("max"),
        times=raw.get("times"),
        anchor=raw.get("anchor"),
    )
    if not param.required:
        coerce_value(param, param.default)
    return param


def parse_targets(raw: Any) -> tuple[tuple[str, str], ...]:
    """Parse `[[node id, input name], ...]`.

    :raises ValueError: when a target is not a pair of strings.
    """
    if not isinstance(raw, list):
        raise ValueError("targets must be a list of [node id, input name]")
    targets = []
    for target in raw:
        if not (
            isinstance(target, list | tuple)
            and len(target) == 2
            and all(isinstance(part, str) and part for part in target)
        ):
            raise ValueError(f"target {target!r} is not [node id (a string), input name]")
        targets.append((target[0], target[1]))
    return tuple(targets)


def parse_output(raw: Any) -> Output:
    """Parse one expected output (`{"node", "kind", "name"}`).

    :raises ValueError: naming what is wrong.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("node"), str):
        raise ValueError("an output is an object with node (a string id), kind and name")
    if raw.get("kind") not in OUTPUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OUTPUT_KINDS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not STEM_PATTERN.match(name):
        raise ValueError("name must be a relative file stem such as 'anim' or 'frames/frame'")
    return Output(node=raw["node"], kind=raw["kind"], name=name)


def coerce_value(param: Param, value: Any) -> Any:
    """Check `value` against the parameter's type, choices and range; return it normalised.

    :raises ValueError: saying what was expected.
    """
    kind = param.type
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expects an integer, got {value!r}")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expects a number, got {value!r}")
        value = float(value)
    elif kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"expects a string, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expects true or false, got {value!r}")
    elif kind == "words":
        value = coerce_words(value)
    elif kind == "loras":
        value = [coerce_lora(item) for item in coerce_list(value, "LoRA objects")]
    if param.choices is not None and value not in param.choices:
        raise ValueError(f"must be one of {list(param.choices)!r}, got {value!r}")
    if param.min is not None and value < param.min:
        raise ValueError(f"must be at least {param.min!r}, got {value!r}")
    if param.max is not None and value > param.max:
        raise ValueError(f"must be at most {param.max!r}, got {value!r}")
    return value


def coerce_list(value: Any, what: str) -> list[Any]:
    """`value` itself when it is a list.

    :raises ValueError: otherwise.
    """
    if not isinstance(value, list | tuple):
        raise ValueError(f"expects a list of {what}, got {value!r}")
    return list(value)


def coerce_words(value: Any) -> list[str]:
    """Trigger words as a clean list: one phrase or a list of phrases, blanks dropped.

    :raises ValueError: when an item is not a string.
    """
    items = [value] if isinstance(value, str) else coerce_list(value, "strings")
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"expects a list of strings, got {value!r}")
    return [item.strip() for item in items if item.strip()]


def coerce_lora(item: Any) -> dict[str, Any]:
    """One LoRA as `{"name", "strength", "strength_clip"}` (strength 1.0 by default; the CLIP
    strength follows the model strength unless given).

    :raises ValueError: when the item is malformed.
    """
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ValueError(f"each LoRA is an object with a name, got {item!r}")
    unknown = set(item) - {"name", "strength", "strength_clip"}
    if unknown:
        raise ValueError(f"unknown LoRA keys: {', '.join(sorted(unknown))}")
    strength = item.get("strength", 1.0)
    strength_clip = item.get("strength_clip", strength)
    for number in (strength, strength_clip):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"LoRA strengths are numbers, got {number!r}")
    return {
        "name": item["name"],
        "strength": float(strength),
        "strength_clip": float(strength_clip),
    }
