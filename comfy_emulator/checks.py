"""Input checks used by validation: links, type matching, coercion, ranges, custom validators."""

from __future__ import annotations

from typing import Any

# Custom validators: (validated input names, takes **kwargs, check(inputs) -> True | message)
Validator = tuple[tuple[str, ...], bool, Any]


def is_link(value: Any) -> bool:
    """A 2-element list [str node id, int|float slot] (comfy_execution.graph_utils.is_link)."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (int, float))
        and not isinstance(value[1], bool)
    )


def types_match(received: str, expected: Any) -> bool:
    """ComfyUI's validate_node_input for plain type names ('*' and comma unions)."""
    if not isinstance(expected, str) or not isinstance(received, str):
        return received == expected
    if received == "*" or expected == "*" or received == expected:
        return True
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in expected.split(",")}
    return got.issubset(want)


def coerce_value(input_type: Any, value: Any) -> Any:
    """Convert a constant by declared type (INT/FLOAT/STRING/BOOLEAN), like the server.

    :raises ValueError: (or TypeError) when the value does not convert.
    """
    if input_type == "INT":
        return int(value)
    if input_type == "FLOAT":
        return float(value)
    if input_type == "STRING":
        return str(value)
    if input_type == "BOOLEAN":
        return bool(value)
    return value


def check_range_and_choices(name: str, value: Any, info: Any, config: list) -> dict | None:
    """The first min/max/combo error for a constant input, or None."""
    extra = info.extra
    if "min" in extra and value < extra["min"]:
        return {
            "type": "value_smaller_than_min",
            "message": "Value {} smaller than min of {}".format(value, extra["min"]),
            "details": f"{name}",
            "extra_info": {"input_name": name, "input_config": config, "received_value": value},
        }
    if "max" in extra and value > extra["max"]:
        return {
            "type": "value_bigger_than_max",
            "message": "Value {} bigger than max of {}".format(value, extra["max"]),
            "details": f"{name}",
            "extra_info": {"input_name": name, "input_config": config, "received_value": value},
        }
    if isinstance(info.input_type, list) or info.input_type == "COMBO":
        options = info.input_type if isinstance(info.input_type, list) else extra.get("options", [])
        if value not in options:
            input_config: Any = config
            if len(options) > 20:
                list_info = f"(list of length {len(options)})"
                input_config = None
            else:
                list_info = str(options)
            return {
                "type": "value_not_in_list",
                "message": "Value not in list",
                "details": f"{name}: '{value}' not in {list_info}",
                "extra_info": {
                    "input_name": name,
                    "input_config": input_config,
                    "received_value": value,
                },
            }
    return None


def run_custom_validator(
    custom: Validator, inputs: dict[str, Any], declared: dict, hidden: list[str]
) -> list[dict]:
    """Run a VALIDATE_INPUTS stand-in; one custom_validation_failed error per input."""
    names, takes_kwargs, check = custom
    filtered = {
        k: v
        for k, v in inputs.items()
        if k in declared and not is_link(v) and (k in names or takes_kwargs)
    }
    result = check(filtered)
    # With **kwargs the real server also hands over the hidden inputs, and reports each name.
    for name in hidden:
        filtered.setdefault(name, None)
    if result is True:
        return []
    errors = []
    for name in filtered:
        details = f"{name}" if result is False else f"{name} - {result}"
        errors.append(
            {
                "type": "custom_validation_failed",
                "message": "Custom validation failed for node",
                "details": details,
                "extra_info": {"input_name": name},
            }
        )
    return errors
