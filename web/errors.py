"""One renderer for every error: JSON {"error", "message", "fields"}, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from shared.errors import FarmError

log = logging.getLogger(__name__)


def register_error_handlers(app: Flask) -> None:
    """Render FarmError, HTTP errors and unexpected exceptions as JSON bodies."""

    @app.errorhandler(FarmError)
    def farm_error(exc: FarmError):
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        body = {"error": code, "message": exc.description or exc.name, "fields": {}}
        return jsonify(body), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error: %s", exc)
        body = {"error": "internal_error", "message": "internal server error", "fields": {}}
        return jsonify(body), 500
