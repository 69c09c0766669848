"""Binding: fill a template's parameters into its graph to get the prompt ComfyUI runs."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from shared.errors import ValidationError
from workers.workflows.catalog import Catalog, default_catalog
from workers.workflows.image_sequences import image_sequence_problem, writes_image_sequence
from workers.workflows.loaders import INPUT_FOLDER, bound_file_problems
from workers.workflows.template import Param, Template, coerce_value
from workers.workflows.validator import Problem, check_graph, is_link

logger = logging.getLogger(__name__)

KEY_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
MAX_KEY_LENGTH = 200
# Inputs only known once a stage runs (the files it uploads to its backend). Stand-ins let a
# template be bound early, to check values and read what the prompt needs.
RUNTIME_PLACEHOLDERS = {"image": f"{INPUT_FOLDER}/check.png", "frames_dir": f"{INPUT_FOLDER}/check"}


def with_placeholders(template: Template, params: dict[str, Any]) -> dict[str, Any]:
    """`params` with stand-ins for the runtime inputs the template binds and params lack."""
    return {**{k: v for k, v in RUNTIME_PLACEHOLDERS.items() if k in template.params}, **params}


def bind(
    template: Template,
    params: dict[str, Any],
    *,
    output_key: str,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    """Return the API prompt for `template` with `params` filled in and every expected output
    saved under the folder `output_key` (for example "farm/job-7/scene-2/keyframe/a1").

    The result is checked against the node specs, so a value out of range is caught here,
    named by its parameter, rather than by ComfyUI; file-loading inputs must name files in
    Tower's input folder and every save must go under `output_key`.

    :raises ValidationError: for an unknown parameter, a missing required one, a value of the
        wrong type or out of range, a file outside Tower's input folder, or a bad output key;
        `fields` names each.
    """
    check_output_key(output_key)
    values = resolve_values(template, params)
    prompt = copy.deepcopy(template.graph)
    owners: dict[tuple[str, str | None], str] = {}
    for param in template.params.values():
        for target in param.targets:
            owners[target] = param.name
        if param.type not in ("words", "loras"):
            value = values[param.name]
            if param.times:
                value = value * values[param.times]
            set_targets(prompt, param, value)
    for param in template.params.values():
        if param.type == "words" and values[param.name]:
            prepend_words(prompt, param, values[param.name])
    for param in template.params.values():
        if param.type == "loras":
            added = insert_lora_chain(prompt, param, values[param.name])
            owners.update({(node_id, None): param.name for node_id in added})
    for output in template.outputs:
        prompt[output.node]["inputs"]["filename_prefix"] = f"{output_key}/{output.name}"
    catalog = catalog or default_catalog()
    problems = check_graph(prompt, catalog, strict=False)
    # A bound `format` can choose what the upload check refused as a constant.
    problems += [
        Problem(output.node, "format", image_sequence_problem(output.node, prompt[output.node]))
        for output in template.outputs
        if writes_image_sequence(prompt[output.node])
    ]
    problems += [
        Problem(node_id, name, message)
        for node_id, name, message in bound_file_problems(prompt, catalog, output_key)
    ]
    if problems:
        fields: dict[str, str] = {}
        for problem in problems:
            owner = owners.get((problem.node, problem.input)) or owners.get((problem.node, None))
            fields[owner or problem.key] = f"{problem.key}: {problem.message}"
        raise ValidationError(
            f"{template.stage} workflow v{template.version}: bound values do not fit the nodes: "
            + "; ".join(f"{key} ({msg})" for key, msg in fields.items()),
            fields=fields,
        )
    logger.debug(
        "bound stage=%s version=%s nodes=%d", template.stage, template.version, len(prompt)
    )
    return prompt


def resolve_values(template: Template, params: dict[str, Any]) -> dict[str, Any]:
    """Every parameter's checked value: given, or its default.

    :raises ValidationError: naming unknown, missing and ill-typed parameters.
    """
    if not isinstance(params, dict):
        raise ValidationError("parameters must be an object", fields={"params": "not an object"})
    fields = {name: "unknown parameter" for name in params if name not in template.params}
    values: dict[str, Any] = {}
    for name, param in template.params.items():
        if name not in params:
            if param.required:
                fields[name] = "required parameter is missing"
            else:
                # Defaults were checked when the template was parsed; normalise them alike.
                values[name] = coerce_value(param, copy.deepcopy(param.default))
            continue
        try:
            values[name] = coerce_value(param, params[name])
        except ValueError as exc:
            fields[name] = str(exc)
    if fields:
        unknown = sorted(name for name, msg in fields.items() if msg == "unknown parameter")
        missing = sorted(name for name, msg in fields.items() if msg.startswith("required"))
        parts = []
        if unknown:
            parts.append(f"unknown parameter(s) {', '.join(unknown)}")
        if missing:
            parts.append(f"missing required parameter(s) {', '.join(missing)}")
        if len(fields) > len(unknown) + len(missing):
            parts.append("invalid value(s)")
        raise ValidationError(
            f"{template.stage} workflow: {'; '.join(parts)} (accepted: "
            f"{', '.join(sorted(template.params))})",
            fields=fields,
        )
    return values


def check_output_key(output_key: str) -> None:
    """Accept only a relative folder of plain segments, so outputs cannot escape the folder.

    :raises ValidationError: otherwise.
    """
    segments = output_key.split("/") if isinstance(output_key, str) else []
    if (
        not segments
        or len(output_key) > MAX_KEY_LENGTH
        or not all(KEY_SEGMENT.match(seg) and seg not in (".", "..") for seg in segments)
    ):
        raise ValidationError(
            f"output key {output_key!r} must be a relative folder such as 'farm/job-1/keyframe'",
            fields={"output_key": "relative folder of letters, digits, '.', '_' and '-'"},
        )


def set_targets(prompt: dict[str, Any], param: Param, value: Any) -> None:
    """Write `value` into every input the parameter is bound to."""
    for node_id, input_name in param.targets:
        target_node(prompt, param, node_id)["inputs"][input_name] = copy.deepcopy(value)


def prepend_words(prompt: dict[str, Any], param: Param, words: list[str]) -> None:
    """Put trigger words in front of each bound text ("tok1, tok2, " + text)."""
    joined = ", ".join(words)
    for node_id, input_name in param.targets:
        inputs = target_node(prompt, param, node_id)["inputs"]
        text = inputs.get(input_name) or ""
        inputs[input_name] = f"{joined}, {text}" if text else joined


def insert_lora_chain(
    prompt: dict[str, Any], param: Param, loras: list[dict[str, Any]]
) -> list[str]:
    """Chain one LoraLoader per LoRA after the anchor's MODEL (0) and CLIP (1) outputs and move
    every consumer of those outputs to the end of the chain; return the new node ids."""
    if not loras:
        return []
    anchor = param.anchor or ""
    target_node(prompt, param, anchor)
    consumers = [
        (node_id, name, int(value[1]))
        for node_id, node in prompt.items()
        for name, value in node.get("inputs", {}).items()
        if is_link(value) and value[0] == anchor and int(value[1]) in (0, 1)
    ]
    model, clip = [anchor, 0], [anchor, 1]
    added: list[str] = []
    next_id = max([int(k) for k in prompt if k.isdigit()] + [0]) + 1
    for lora in loras:
        while str(next_id) in prompt:
            next_id += 1
        node_id = str(next_id)
        prompt[node_id] = {
            "class_type": "LoraLoader",
            "inputs": {
                "model": model,
                "clip": clip,
                "lora_name": lora["name"],
                "strength_model": lora["strength"],
                "strength_clip": lora["strength_clip"],
            },
            "_meta": {"title": f"LoRA {lora['name']}"},
        }
        model, clip = [node_id, 0], [node_id, 1]
        added.append(node_id)
    for node_id, name, slot in consumers:
        prompt[node_id]["inputs"][name] = list(model if slot == 0 else clip)
    return added


def target_node(prompt: dict[str, Any], param: Param, node_id: str) -> dict[str, Any]:
    """The node a binding points at.

    :raises ValidationError: when the template has no such node (a broken template).
    """
    node = prompt.get(node_id)
    if not isinstance(node, dict):
        raise ValidationError(
            f"binding {param.name!r} points at missing node {node_id!r}",
            fields={param.name: f"missing node {node_id!r}"},
        )
    node.setdefault("inputs", {})
    return node
