"""Checks every request passes before its handler: JSON bodies only, a size limit, and a
nesting limit on JSON."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest

from web.uploads import open_upload

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Far deeper than any Tower document, far shallower than the parsers' and serialisers'
# recursion limits (a 5,000-deep body used to end in a RecursionError and a 500).
MAX_JSON_DEPTH = 64


def require_json_body() -> None:
    """Refuse a write whose body is not JSON, or not parseable, or nested too deep (400),
    before any handler runs (routes taking an upload check their own form).

    :raises BadRequest: for a non-empty body with another content type, or a bad JSON one.
    """
    if request.method not in BODY_METHODS or is_dashboard_form() or open_upload():
        return
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
    if has_body and not request.is_json:
        raise BadRequest("the request body must be JSON (Content-Type: application/json)")
    if has_body:
        check_json_body(request.get_data(cache=True))


def is_dashboard_form() -> bool:
    """A plain HTML form posted to the dashboard (its confirmations work without scripts)."""
    return (
        request.blueprint == "dashboard" and request.mimetype == "application/x-www-form-urlencoded"
    )


def check_json_body(data: bytes) -> None:
    """Parse a JSON body once to refuse what the schemas' parser must never see.

    :raises BadRequest: when it is not UTF-8 JSON or is nested deeper than MAX_JSON_DEPTH.
    """
    try:
        document = json.loads(data.decode("utf-8"))
    except RecursionError as exc:
        raise BadRequest(nesting_message()) from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BadRequest(f"the request body is not valid JSON: {exc}") from exc
    if json_depth(document) > MAX_JSON_DEPTH:
        raise BadRequest(nesting_message())


def nesting_message() -> str:
    """The message of a body nested too deep."""
    return f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"


def json_depth(document: Any) -> int:
    """How deeply arrays and objects nest in a parsed document (walked without recursion)."""
    deepest = 0
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def register_request_checks(app: Flask) -> None:
    """Install the before-request checks."""
    app.before_request(require_json_body)
