"""Reading a model's answer as JSON and checking it against the feature's schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

MAX_PROBLEMS = 5


@dataclass(frozen=True)
class Answer:
    """A validated answer and how it was obtained."""

    data: Any
    model: str
    latency_s: float
    attempts: int


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer, allowing a Markdown code fence or chatter around it.

    :raises ValueError: when no JSON object can be read.
    """
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("the answer holds no JSON object") from None
        try:
            return json.loads(text[start : end + 1])
        except json.JSONDecodeError as exc:
            raise ValueError(f"the answer is not valid JSON: {exc}") from None


def answer_problem(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """(the parsed answer, None) when it is JSON matching `schema`, else (None, what is wrong)."""
    try:
        data = extract_json(text)
    except ValueError as exc:
        return None, str(exc)
    problems = []
    for error in jsonschema_rs.validator_for(schema).iter_errors(data):
        where = "/".join(str(p) for p in error.instance_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
        if len(problems) == MAX_PROBLEMS:
            break
    if problems:
        return None, "; ".join(problems)
    return data, None


def schema_instructions(schema: dict[str, Any]) -> str:
    """The system-prompt paragraph that asks for JSON against `schema`."""
    return (
        "Answer with one JSON object only (no prose, no Markdown) that validates against this "
        f"JSON Schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )
