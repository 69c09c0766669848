"""Offline validator: checks an API-format graph against node specs the way ComfyUI's own
validation does (classes, required inputs, links and their types, values in range or list)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from workers.comfyui.capabilities import MODEL_INPUTS
from workers.workflows.catalog import Catalog, InputSpec

# Inputs whose choice list is not a rule: model files differ per backend (checked by routing
# instead), and these loaders have custom validators that accept "subfolder/name" values.
FREE_CHOICES: frozenset[tuple[str, str]] = frozenset(
    {(cls, name) for cls, inputs in MODEL_INPUTS.items() for name in inputs}
    | {
        ("LoadImage", "image"),
        ("LoadImageMask", "image"),
        ("VHS_LoadImages", "directory"),
        ("VHS_LoadVideo", "video"),
    }
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph, at a node (and input) when it has a place."""

    node: str | None
    input: str | None
    message: str

    @property
    def key(self) -> str:
        """Where the problem is, as `node.input`, `node`, or `graph`."""
        if self.node is None:
            return "graph"
        return f"{self.node}.{self.input}" if self.input else self.node


def is_link(value: Any) -> bool:
    """True for `["node id", output index]`, ComfyUI's link shape."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int | float)
        and not isinstance(value[1], bool)
    )


def looks_like_numeric_link(value: Any) -> bool:
    """True for `[4, 0]`: meant as a link but with a number id, which ComfyUI cannot resolve."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def check_structure(graph: Any) -> list[Problem]:
    """Check the API-format shape: node objects with a class_type, inputs and valid links."""
    if not isinstance(graph, dict) or not graph:
        return [Problem(None, None, "an API-format graph is a non-empty object of nodes")]
    problems: list[Problem] = []
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            problems.append(Problem(node_id, None, "node must be an object with a class_type"))
            continue
        if not isinstance(node.get("inputs", {}), dict):
            problems.append(Problem(node_id, None, "node inputs must be an object"))
            continue
        for name, value in node.get("inputs", {}).items():
            if looks_like_numeric_link(value):
                problems.append(
                    Problem(
                        node_id,
                        name,
                        f"link {value!r} uses a number as node id; links need a string "
                        f'node id such as ["{value[0]:g}", {value[1]:g}]',
                    )
                )
            elif is_link(value) and value[0] not in graph:
                problems.append(Problem(node_id, name, f"links to missing node {value[0]!r}"))
    if not problems:
        problems.extend(find_cycles(graph))
    return problems


def find_cycles(graph: dict[str, Any]) -> list[Problem]:
    """Report a node that depends on itself through its links (ComfyUI cannot order it)."""
    state: dict[str, int] = {}

    def visit(node_id: str) -> str | None:
        state[node_id] = 1
        for value in graph[node_id].get("inputs", {}).values():
            if not is_link(value):
                continue
            seen = state.get(value[0], 0)
            if seen == 1:
                return value[0]
            if seen == 0 and (looped := visit(value[0])) is not None:
                return looped
        state[node_id] = 2
        return None

    for node_id in graph:
        if state.get(node_id, 0) == 0 and (looped := visit(node_id)) is not None:
            return [Problem(looped, None, "node is part of a link cycle")]
    return []


def check_graph(
    graph: Any,
    catalog: Catalog,
    *,
    strict: bool = True,
    output_classes: Collection[str] = (),
) -> list[Problem]:
    """Validate a graph against the catalog; `strict` also rejects classes the catalog lacks
    (otherwise their inputs go unchecked). An output node is a catalog output or one of
    `output_classes`."""
    problems = check_structure(graph)
    if problems:
        return problems
    for node_id, node in graph.items():
        class_type = node["class_type"]
        if class_type not in catalog:
            if strict:
                problems.append(Problem(node_id, None, f"unknown node class {class_type!r}"))
            continue
        inputs = node.get("inputs", {})
        declared = {**catalog.inputs(class_type), **catalog.extra_inputs(class_type, inputs)}
        for name, spec in declared.items():
            if name not in inputs:
                if spec.required:
                    problems.append(Problem(node_id, name, "required input is missing"))
                continue
            free = (class_type, name) in FREE_CHOICES
            message = check_value(spec, inputs[name], graph, catalog, free_choice=free)
            if message:
                problems.append(Problem(node_id, name, message))
    if not any(
        n["class_type"] in output_classes
        or (n["class_type"] in catalog and catalog.is_output_node(n["class_type"]))
        for n in graph.values()
    ):
        problems.append(Problem(None, None, "graph has no output node (e.g. SaveImage)"))
    return problems


def check_value(
    spec: InputSpec, value: Any, graph: dict[str, Any], catalog: Catalog, *, free_choice: bool
) -> str | None:
    """Why `value` does not fit `spec`, or None when it does."""
    if is_link(value):
        return check_link(spec, value, graph, catalog)
    if spec.is_choice:
        if free_choice:
            return None if isinstance(value, str) and value else "must be a non-empty string"
        if isinstance(value, bool) or value not in spec.type:
            return f"value {value!r} not in {list(spec.type)!r}"
        return None
    kind = spec.type
    if kind == "INT" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"expects an integer, got {value!r}"
    if kind == "FLOAT" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"expects a number, got {value!r}"
    if kind == "STRING" and not isinstance(value, str):
        return f"expects a string, got {value!r}"
    if kind == "BOOLEAN" and not isinstance(value, bool):
        return f"expects a JSON boolean, got {value!r}"
    if kind not in ("INT", "FLOAT", "STRING", "BOOLEAN", "*"):
        return f"expects a link to a {kind} output, got a constant"
    if kind in ("INT", "FLOAT"):
        low, high = spec.options.get("min"), spec.options.get("max")
        if low is not None and value < low:
            return f"value {value!r} is smaller than the minimum {low!r}"
        if high is not None and value > high:
            return f"value {value!r} is bigger than the maximum {high!r}"
    return None


def check_link(
    spec: InputSpec, link: list[Any], graph: dict[str, Any], catalog: Catalog
) -> str | None:
    """Why a link cannot feed `spec` (bad output slot or type), or None."""
    source = graph[link[0]]["class_type"]
    if source not in catalog:
        return None
    outputs = catalog.outputs(source)
    index = int(link[1])
    if not 0 <= index < len(outputs):
        return f"links to output {index} of {source}, which has {len(outputs)} outputs"
    if spec.is_choice:
        return None
    produced, wanted = outputs[index], str(spec.type)
    if "*" in (produced, wanted) or set(produced.split(",")) & set(wanted.split(",")):
        return None
    return f"expects {wanted} but output {index} of {source} is {produced}"
