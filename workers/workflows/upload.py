"""Upload: check a user's exported API workflow and its bindings before it becomes a Template."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from shared.errors import ValidationError
from workers.workflows.catalog import Catalog, default_catalog
from workers.workflows.image_sequences import image_sequence_problem, writes_image_sequence
from workers.workflows.library import output_kinds
from workers.workflows.loaders import RUNTIME_INPUTS, loader_inputs, loader_value_problem
from workers.workflows.template import Output, Param, Template, parse_output, parse_param
from workers.workflows.validator import check_graph, check_structure, is_link

MAX_NODES = 500
MAX_GRAPH_BYTES = 256 * 1024
WIDGET_TYPES = {"INT": "int", "FLOAT": "float", "STRING": "str", "BOOLEAN": "bool"}
UI_EXPORT_MESSAGE = (
    "this is the ComfyUI editor's workflow format (it has 'nodes' and 'links' arrays); "
    "upload the API format instead: in ComfyUI use Workflow > Export (API)"
)


def validate_upload(
    graph: Any,
    bindings: Any,
    *,
    allowlist: set[str] | frozenset[str],
    stage: str = "custom",
    version: int = 1,
    outputs: list[dict[str, Any]] | None = None,
    description: str = "",
    catalog: Catalog | None = None,
) -> Template:
    """Check an uploaded API-format graph and its bindings and return it as a Template.

    `bindings` maps parameter name to a full binding (`{"type", "targets", ...}`) or just its
    targets (`[["6", "seed"]]`; type from the node spec, default from the graph). Without
    `outputs`, every file-saving output node becomes an expected output.

    :raises ValidationError: when the graph is the editor (non-API) format, too big, has
        malformed or numeric-id links, uses a class outside `allowlist`, has no output node,
        has values the node specs reject, reads files outside Tower's input folder, or when a
        binding points at a missing node or input, a file input or a save prefix; `fields`
        names each problem.
    """
    catalog = catalog or default_catalog()
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list) and "links" in graph:
        raise ValidationError(UI_EXPORT_MESSAGE, fields={"graph": UI_EXPORT_MESSAGE})
    if isinstance(graph, dict) and len(graph) > MAX_NODES:
        raise ValidationError(
            f"workflow has {len(graph)} nodes; at most {MAX_NODES} are accepted",
            fields={"graph": "too many nodes"},
        )
    size = len(json.dumps(graph))
    if size > MAX_GRAPH_BYTES:
        raise ValidationError(
            f"workflow is {size} bytes of JSON; at most {MAX_GRAPH_BYTES} are accepted",
            fields={"graph": f"larger than {MAX_GRAPH_BYTES} bytes"},
        )
    problems = check_structure(graph)
    if problems:
        raise_rejection({p.key: p.message for p in problems})
    fields: dict[str, str] = {}
    for node_id, node in graph.items():
        if node["class_type"] not in allowlist:
            fields[f"{node_id}.class_type"] = (
                f"node class {node['class_type']!r} is not allowed on this farm"
            )
    kinds = output_kinds()
    for problem in check_graph(graph, catalog, strict=False, output_classes=set(kinds)):
        fields.setdefault(problem.key, problem.message)
    params: dict[str, Param] = {}
    if not isinstance(bindings, dict):
        fields["bindings"] = "must be an object of parameter name to binding"
        bindings = {}
    for name, raw in bindings.items():
        try:
            params[name] = parse_param(name, expand_shorthand(raw, graph, catalog))
        except ValueError as exc:
            fields[f"bindings.{name}"] = str(exc)
    expected = parse_outputs(outputs, graph, kinds, fields)
    fields.update(check_bindings(graph, params, expected, catalog))
    fields.update(check_files(graph, params, expected, catalog))
    if fields:
        raise_rejection(fields)
    return Template(
        stage=stage,
        version=version,
        graph=copy.deepcopy(graph),
        params=params,
        outputs=tuple(expected),
        description=description,
    )


def raise_rejection(fields: dict[str, str]) -> None:
    """Raise one ValidationError listing every problem.

    :raises ValidationError: always.
    """
    listed = "; ".join(f"{key}: {message}" for key, message in list(fields.items())[:8])
    more = f" (and {len(fields) - 8} more)" if len(fields) > 8 else ""
    raise ValidationError(f"workflow upload rejected: {listed}{more}", fields=fields)


def expand_shorthand(raw: Any, graph: dict[str, Any], catalog: Catalog) -> Any:
    """Turn a bare target list into a full binding, typed by the first target's input spec
    (or its current value) and defaulting to the value in the graph."""
    if not isinstance(raw, list) or not raw:
        return raw
    first = raw[0]
    node = graph.get(first[0]) if isinstance(first, list | tuple) and len(first) == 2 else None
    if not isinstance(node, dict) or not isinstance(first[1], str):
        return {"type": "str", "targets": raw, "required": True}
    current = node.get("inputs", {}).get(first[1])
    kind = None
    if node["class_type"] in catalog:
        spec = catalog.inputs(node["class_type"]).get(first[1])
        if spec is not None and spec.is_choice:
            kind = "str" if all(isinstance(c, str) for c in spec.type) else "float"
        elif spec is not None:
            kind = WIDGET_TYPES.get(str(spec.type))
    if kind is None:
        kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(current), "str")
    if current is None or is_link(current):
        return {"type": kind, "targets": raw, "required": True}
    return {"type": kind, "targets": raw, "default": current}


def parse_outputs(
    outputs: list[dict[str, Any]] | None,
    graph: dict[str, Any],
    kinds: dict[str, str | None],
    fields: dict[str, str],
) -> list[Output]:
    """The expected outputs as given, or inferred from the graph's file-saving nodes."""
    if outputs is None:
        inferred = [
            Output(node_id, kinds[node["class_type"]], re.sub(r"[^A-Za-z0-9_-]", "_", node_id))
            for node_id, node in graph.items()
            if kinds.get(node["class_type"])
        ]
        if not inferred:
            fields["outputs"] = (
                "graph has no node that saves files (SaveImage, SaveVideo, VHS_VideoCombine, "
                "...); previews write only temporary files"
            )
        return inferred
    parsed = []
    for index, raw in enumerate(outputs if isinstance(outputs, list) else [None]):
        try:
            parsed.append(parse_output(raw))
        except ValueError as exc:
            fields[f"outputs.{index}"] = str(exc)
    return parsed


def check_bindings(
    graph: dict[str, Any], params: dict[str, Param], outputs: list[Output], catalog: Catalog
) -> dict[str, str]:
    """Problems with bindings and outputs against the graph: missing nodes, inputs the node
    does not have, link-only inputs bound to values, bad anchors and non-output nodes."""
    fields: dict[str, str] = {}
    for param in params.values():
        key = f"bindings.{param.name}"
        for node_id, input_name in param.targets:
            problem = check_target(graph, catalog, node_id, input_name, param.type)
            if problem:
                fields[key] = problem
                break
        if param.type == "loras":
            problem = check_anchor(graph, catalog, param.anchor or "")
            if problem:
                fields[key] = problem
        if param.times is not None:
            other = params.get(param.times)
            if other is None or other is param or other.type not in ("int", "float"):
                fields[key] = f"times must name another numeric parameter, not {param.times!r}"
    kinds = output_kinds()
    for index, output in enumerate(outputs):
        node = graph.get(output.node)
        if node is None:
            fields[f"outputs.{index}"] = f"node {output.node!r} does not exist"
        elif not (
            node["class_type"] in kinds
            or (node["class_type"] in catalog and catalog.is_output_node(node["class_type"]))
        ):
            fields[f"outputs.{index}"] = (
                f"node {output.node!r} ({node['class_type']}) is not an output node"
            )
        elif check_target(graph, catalog, output.node, "filename_prefix", "str"):
            fields[f"outputs.{index}"] = f"node {output.node!r} has no filename_prefix input"
        elif node.get("inputs", {}).get("save_output") is False:
            # VHS writes to the temp folder then, which the server wipes: nothing to collect.
            fields[f"outputs.{index}"] = f"node {output.node!r} must have save_output true"
        elif writes_image_sequence(node):
            fields[f"outputs.{index}"] = image_sequence_problem(output.node, node)
    return fields


def check_files(
    graph: dict[str, Any], params: dict[str, Param], outputs: list[Output], catalog: Catalog
) -> dict[str, str]:
    """Problems with what the graph reads and writes: a loader input names a file outside
    Tower's input folder, or is bound to anything but Tower's run-time inputs; a binding sets
    a save prefix; a node saves files without being a declared output."""
    fields: dict[str, str] = {}
    bound = {target: param for param in params.values() for target in param.targets}
    for node_id, name in loader_inputs(graph, catalog):
        value = graph[node_id]["inputs"][name]
        param = bound.get((node_id, name))
        if param is None:
            problem = loader_value_problem(value)
        elif param.name not in RUNTIME_INPUTS or param.type != "str" or not param.required:
            fields[f"bindings.{param.name}"] = (
                f"binds the file input {name!r} of node {node_id!r}; only Tower's run-time "
                f"inputs ({', '.join(sorted(RUNTIME_INPUTS))}, required) may"
            )
            continue
        else:  # Tower replaces the placeholder with a file it uploaded
            problem = loader_value_problem(value, in_input_folder=False)
        if problem:
            fields[f"{node_id}.{name}"] = problem
    for param in params.values():
        if any(name == "filename_prefix" for _, name in param.targets):
            fields[f"bindings.{param.name}"] = (
                "filename_prefix cannot be bound: Tower saves each stage under its own folder"
            )
    declared = {output.node for output in outputs}
    for node_id, node in graph.items():
        if "filename_prefix" in node.get("inputs", {}) and node_id not in declared:
            fields[f"{node_id}.filename_prefix"] = (
                "this node saves files but is not a declared output (Tower chooses where "
                "declared outputs are saved)"
            )
    return fields


def check_target(
    graph: dict[str, Any], catalog: Catalog, node_id: str, input_name: str, kind: str
) -> str | None:
    """Why a parameter of `kind` cannot be bound to this node input, or None."""
    node = graph.get(node_id)
    if node is None:
        return f"node {node_id!r} does not exist"
    class_type = node["class_type"]
    inputs = node.get("inputs", {})
    if class_type not in catalog:
        # Without a spec, the exported graph itself shows which inputs the node has.
        if input_name not in inputs:
            return f"node {node_id!r} ({class_type}) has no input {input_name!r}"
        return None
    spec = catalog.inputs(class_type).get(input_name) or catalog.extra_inputs(
        class_type, inputs
    ).get(input_name)
    if spec is None:
        return f"node {node_id!r} ({class_type}) has no input {input_name!r}"
    if not spec.is_choice and str(spec.type) not in WIDGET_TYPES:
        return f"input {input_name!r} of node {node_id!r} takes a {spec.type} link, not a value"
    if kind == "words" and spec.type != "STRING":
        return f"trigger words need a text input; {input_name!r} of node {node_id!r} is not one"
    return None


def check_anchor(graph: dict[str, Any], catalog: Catalog, anchor: str) -> str | None:
    """Why `anchor` cannot start a LoRA chain (it must output MODEL then CLIP), or None."""
    node = graph.get(anchor)
    if node is None:
        return f"anchor node {anchor!r} does not exist"
    class_type = node["class_type"]
    if class_type in catalog and catalog.outputs(class_type)[:2] != ["MODEL", "CLIP"]:
        return f"anchor node {anchor!r} ({class_type}) does not output MODEL and CLIP"
    return None
