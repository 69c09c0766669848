"""One renderer for every error: JSON {"error", "message", "fields"}, never a traceback (an
HTML page of the same on the dashboard's pages)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared.db import db, lost_connection, lost_lock_race
from shared.errors import (
    AuthenticationError,
    ConflictError,
    FarmError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from web.error_pages import render_error_page, wants_error_page

log = logging.getLogger(__name__)


def error_body(code: str, message: str, problems: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON body of an error."""
    return {"error": code, "message": message, "fields": problems or {}}


def error_response(body: dict[str, Any], status: int) -> Response:
    """An error body as the response: JSON, or the error page for a dashboard page."""
    if wants_error_page():
        return render_error_page(status, body)
    response = jsonify(body)
    response.status_code = status
    return response


def fields_from_messages(messages: Any, prefix: str = "") -> dict[str, str]:
    """Flatten webargs/marshmallow messages ({"json": {"a": {"b": ["..."]}}}) to {"a.b": "..."}."""
    if isinstance(messages, list):
        return {prefix or "_body": "; ".join(str(m) for m in messages)}
    if not isinstance(messages, dict):
        return {prefix or "_body": str(messages)}
    flat: dict[str, str] = {}
    for key, value in messages.items():
        # The location level ("json", "query") says nothing to a client.
        name = str(key) if prefix or key not in ("json", "query", "form", "files", "path") else ""
        if name == "_schema":
            name = ""
        flat.update(fields_from_messages(value, f"{prefix}.{name}".strip(".") if name else prefix))
    return flat


def render_http_error(exc: HTTPException):
    """An HTTP error from Flask or webargs as Tower's JSON body."""
    data = getattr(exc, "data", None) or {}
    problems = fields_from_messages(data.get("messages") or data.get("errors") or {})
    if exc.code == 422:
        return error_response(
            error_body("validation_error", "the request does not match the schema", problems), 422
        )
    code = (exc.name or "error").lower().replace(" ", "_")
    message = data.get("message") or exc.description or exc.name
    response = error_response(error_body(code, message, problems), exc.code or 500)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def register_error_handlers(app: Flask) -> None:
    """Render FarmError, HTTP errors, integrity clashes and unexpected exceptions as JSON."""

    @app.errorhandler(FarmError)
    def farm_error(exc: FarmError):
        db.session.rollback()
        response = error_response(exc.to_dict(), exc.status)
        if isinstance(exc, RateLimitedError):
            response.headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, AuthenticationError):
            response.headers["WWW-Authenticate"] = 'Bearer realm="tower"'
        return response

    app.register_error_handler(HTTPException, render_http_error)

    @app.errorhandler(sa.exc.IntegrityError)
    def integrity_error(exc: sa.exc.IntegrityError):
        # A unique or foreign-key clash the service did not foresee: the state, not the input.
        db.session.rollback()
        log.info("integrity error: %s", exc.orig)
        return farm_error(ConflictError("the request clashes with existing data"))

    @app.errorhandler(sa.exc.DataError)
    def data_error(exc: sa.exc.DataError):
        # A value the schema let through but Postgres cannot store (range, encoding).
        db.session.rollback()
        log.info("data error: %s", exc.orig)
        return farm_error(ValidationError("a value is out of range or cannot be stored"))

    @app.errorhandler(sa.exc.OperationalError)
    def operational_error(exc: sa.exc.OperationalError):
        # Postgres rolled the request's transaction back to break a deadlock: nothing changed.
        if lost_lock_race(exc):
            db.session.rollback()
            log.info("lost a lock race: %s", exc.orig)
            response = farm_error(
                TransientError("the farm was busy with the same rows; nothing changed, retry")
            )
            response.headers["Retry-After"] = "1"
            return response
        # Postgres is restarting, or dropped the connection since its last use (pooled
        # connections just used are not pinged, see shared.db.ping_when_idle).
        if lost_connection(exc):
            db.session.rollback()
            log.warning("database connection lost: %s", exc.orig)
            response = farm_error(TransientError("the database is unavailable; retry shortly"))
            response.headers["Retry-After"] = "2"
            return response
        return unexpected(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error: %s", exc)
        return error_response(error_body("internal_error", "internal server error"), 500)
