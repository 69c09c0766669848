"""The OpenAPI layer: flask-smorest's Api, rendering every error in Tower's one shape."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import Schema, ValidationError
from marshmallow import fields as ma_fields
from webargs.flaskparser import FlaskParser

from web import docs
from web.errors import render_http_error
from web.query_args import REPEATED


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
    """webargs' parser, but unknown query parameters are errors too (the schema decides), and
    so is a single-valued one given twice (webargs would quietly take the first)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_querystring(self, req: Any, schema: Schema) -> Any:
        """The query parameters, once each unless the schema takes a list.

        :raises marshmallow.ValidationError: naming each parameter given twice.
        """
        refuse_repeated(req.args, schema)
        return super().load_querystring(req, schema)


def refuse_repeated(args: Any, schema: Schema) -> None:
    """Refuse single-valued parameters given more than once (`?limit=1&limit=500`).

    :raises marshmallow.ValidationError: naming each one.
    """
    by_name = {field.data_key or name: field for name, field in schema.fields.items()}
    repeated = {
        name: [REPEATED]
        for name in args
        if name in by_name
        and len(args.getlist(name)) > 1
        and not isinstance(by_name[name], ma_fields.List | ma_fields.Tuple)
    }
    if repeated:
        raise ValidationError(repeated)


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
