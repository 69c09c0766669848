"""Artifacts: metadata, and content streamed with HTTP range requests."""

from __future__ import annotations

from flask import send_file

from web import assets
from web.identity import require_user, requires
from web.openapi import Blueprint
from web.schemas.records import AssetSchema

blp = Blueprint("assets", __name__, url_prefix="/api/anime", description="Render outputs")

BINARY = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}


@blp.route("/assets/<int:asset_id>", methods=["GET"])
@requires()
@blp.response(200, AssetSchema)
def get_asset(asset_id):
    """An asset's metadata."""
    return assets.describe_asset(require_user(), asset_id)


@blp.route("/assets/<int:asset_id>/content", methods=["GET"])
@requires()
@blp.doc(
    responses={
        "200": {"description": "The whole file", **BINARY},
        "206": {"description": "The requested byte range", **BINARY},
        "304": {"description": "Not modified"},
        "416": {"description": "Range not satisfiable"},
    }
)
def get_asset_content(asset_id):
    """The asset's file; honours Range, If-Range and conditional headers."""
    path, mime_type = assets.asset_file(require_user(), asset_id)
    return send_file(path, mimetype=mime_type, conditional=True, etag=True, max_age=0)
