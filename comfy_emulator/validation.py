"""POST /prompt validation, following ComfyUI 0.3.64 execution.validate_prompt step by step.

The error objects (types, messages, details, extra_info and where they are reported) match
the recorded 400 bodies in shared/fixtures/comfyui (04, 05, 05b, 17).
"""

from __future__ import annotations

import traceback
from typing import Any

from comfy_emulator.catalog import Catalog
from comfy_emulator.checks import (
    Validator,
    check_range_and_choices,
    coerce_value,
    run_custom_validator,
    types_match,
)

BAD_LINK_MESSAGE = "Bad linked input, must be a length-2 list of [node_id, slot_index]"


class ValidationContext:
    """What validation needs: the catalog and the custom validators of loader nodes."""

    def __init__(self, catalog: Catalog, validators: dict[str, Validator]) -> None:
        self.catalog = catalog
        self.validators = validators


def _full_type_name(exc: BaseException) -> str:
    module = type(exc).__module__
    name = type(exc).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def _tb(exc: BaseException) -> list[str]:
    return traceback.format_tb(exc.__traceback__)


def validate_inputs(
    ctx: ValidationContext, prompt: dict[str, Any], unique_id: str, validated: dict
) -> tuple[bool, list[dict[str, Any]], str]:
    """Validate one node and (recursively) its ancestors; results are memoised in validated."""
    if unique_id in validated:
        return validated[unique_id]
    inputs = prompt[unique_id]["inputs"]
    class_type = prompt[unique_id]["class_type"]
    declared = ctx.catalog.declared_inputs(class_type)
    custom = ctx.validators.get(class_type)
    custom_inputs, custom_kwargs = (custom[0], custom[1]) if custom else ((), False)
    errors: list[dict[str, Any]] = []
    valid = True
    for name, info in declared.items():
        config = [info.input_type, info.extra]
        if name not in inputs:
            if info.category == "required" and not custom_kwargs:
                errors.append(
                    {
                        "type": "required_input_missing",
                        "message": "Required input is missing",
                        "details": f"{name}",
                        "extra_info": {"input_name": name},
                    }
                )
            continue
        value = inputs[name]
        if isinstance(value, list):
            if len(value) != 2:
                errors.append(
                    {
                        "type": "bad_linked_input",
                        "message": BAD_LINK_MESSAGE,
                        "details": f"{name}",
                        "extra_info": {
                            "input_name": name,
                            "input_config": config,
                            "received_value": value,
                        },
                    }
                )
                continue
            source_id = value[0]
            # Deliberately unguarded like the real code: a bad id or slot raises here and
            # is reported by the caller (exception_during_[inner_]validation).
            source_class = prompt[source_id]["class_type"]
            received = ctx.catalog.return_types(source_class)[value[1]]
            if not types_match(received, info.input_type):
                errors.append(
                    {
                        "type": "return_type_mismatch",
                        "message": "Return type mismatch between linked nodes",
                        "details": f"{name}, received_type({received}) mismatch "
                        f"input_type({info.input_type})",
                        "extra_info": {
                            "input_name": name,
                            "input_config": config,
                            "received_type": received,
                            "linked_node": value,
                        },
                    }
                )
                continue
            try:
                result = validate_inputs(ctx, prompt, source_id, validated)
                if result[0] is False:
                    valid = False
                    continue
            except Exception as exc:  # noqa: BLE001 - mirrors the server's report
                valid = False
                validated[source_id] = (
                    False,
                    [
                        {
                            "type": "exception_during_inner_validation",
                            "message": "Exception when validating inner node",
                            "details": str(exc),
                            "extra_info": {
                                "input_name": name,
                                "input_config": config,
                                "exception_message": str(exc),
                                "exception_type": _full_type_name(exc),
                                "traceback": _tb(exc),
                                "linked_node": value,
                            },
                        }
                    ],
                    source_id,
                )
                continue
        else:
            try:
                if isinstance(value, dict) and "__value__" in value:
                    value = value["__value__"]
                    inputs[name] = value
                value = coerce_value(info.input_type, value)
                inputs[name] = value
            except Exception as exc:  # noqa: BLE001
                errors.append(
                    {
                        "type": "invalid_input_type",
                        "message": f"Failed to convert an input value to a {info.input_type} value",
                        "details": f"{name}, {value}, {exc}",
                        "extra_info": {
                            "input_name": name,
                            "input_config": config,
                            "received_value": value,
                            "exception_message": str(exc),
                        },
                    }
                )
                continue
            if name not in custom_inputs and not custom_kwargs:
                error = check_range_and_choices(name, value, info, config)
                if error is not None:
                    errors.append(error)
                    continue
    if custom is not None:
        hidden = ctx.catalog.hidden_inputs(class_type) if custom_kwargs else []
        errors.extend(run_custom_validator(custom, inputs, declared, hidden))
    result = (False, errors, unique_id) if errors or valid is not True else (True, [], unique_id)
    validated[unique_id] = result
    return result


def validate_prompt(
    ctx: ValidationContext, prompt: dict[str, Any], partial_targets: list | None
) -> tuple[bool, dict | None, list[str], dict[str, Any]]:
    """(ok, error, good outputs, node_errors) exactly as the real validate_prompt returns."""
    outputs: list[str] = []
    for node_id in prompt:
        node = prompt[node_id]
        if "class_type" not in node:
            return (
                False,
                _prompt_error("a node is missing the class_type property.", node_id),
                [],
                {},
            )
        class_type = node["class_type"]
        if not ctx.catalog.has_class(class_type):
            return (False, _prompt_error(f"node {class_type} does not exist.", node_id), [], {})
        if ctx.catalog.is_output(class_type):
            if partial_targets is None or node_id in partial_targets:
                outputs.append(node_id)
    if not outputs:
        error = {
            "type": "prompt_no_outputs",
            "message": "Prompt has no outputs",
            "details": "",
            "extra_info": {},
        }
        return (False, error, [], {})
    good: list[str] = []
    failures: list[tuple[str, list]] = []
    node_errors: dict[str, Any] = {}
    validated: dict[str, Any] = {}
    for output in outputs:
        try:
            ok, reasons, _ = validate_inputs(ctx, prompt, output, validated)
        except Exception as exc:  # noqa: BLE001
            ok = False
            reasons = [
                {
                    "type": "exception_during_validation",
                    "message": "Exception when validating node",
                    "details": str(exc),
                    "extra_info": {"exception_type": _full_type_name(exc), "traceback": _tb(exc)},
                }
            ]
            validated[output] = (False, reasons, output)
        if ok is True:
            good.append(output)
            continue
        failures.append((output, reasons))
        for node_id, result in validated.items():
            if result[0] is not True and len(result[1]) > 0:
                if node_id not in node_errors:
                    node_errors[node_id] = {
                        "errors": result[1],
                        "dependent_outputs": [],
                        "class_type": prompt[node_id]["class_type"],
                    }
                node_errors[node_id]["dependent_outputs"].append(output)
    if not good:
        lines = [f"{e['message']}: {e['details']}" for _, errs in failures for e in errs]
        error = {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "\n".join(lines),
            "extra_info": {},
        }
        return (False, error, good, node_errors)
    return (True, None, good, node_errors)


def _prompt_error(what: str, node_id: str) -> dict[str, Any]:
    return {
        "type": "invalid_prompt",
        "message": f"Cannot execute because {what}",
        "details": f"Node ID '#{node_id}'",
        "extra_info": {},
    }
