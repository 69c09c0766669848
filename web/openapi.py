"""The OpenAPI layer: flask-smorest's Api, rendering every error in Tower's one shape."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import Schema
from marshmallow import fields as ma_fields
from webargs.flaskparser import FlaskParser

from web import docs
from web.errors import render_http_error


class ErrorSchema(Schema):
    """Every error body: a code, a message for people, and a problem per field."""

    error = ma_fields.String(required=True)
    message = ma_fields.String(required=True)
    fields = ma_fields.Dict(keys=ma_fields.String(), values=ma_fields.String(), required=True)


class TowerApi(Api):
    """flask-smorest's Api with Tower's error schema and renderer."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: Any):
        """Render an HTTP error (including webargs' 422 and 400) as {"error","message","fields"}."""
        return render_http_error(error)


class StrictParser(FlaskParser):
    """webargs' parser, but unknown query parameters are errors too (the schema decides)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint with the strict parser."""

    ARGUMENTS_PARSER = StrictParser()


SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or API token"},
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
}

# Endpoints that need no credentials document `security: []` through this.
PUBLIC = {"security": []}


def openapi_config() -> dict[str, Any]:
    """The Flask config keys flask-smorest reads to publish /openapi.json and /docs."""
    return {
        "API_TITLE": "Tower",
        "API_VERSION": "1.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # Served by this app (web/docs.py): the docs page loads nothing from elsewhere.
        "OPENAPI_SWAGGER_UI_URL": f"{docs.ASSETS_URL}/",
        "API_SPEC_OPTIONS": {
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "info": {"description": "Tower render farm API: productions, generation, jobs."},
        },
    }
