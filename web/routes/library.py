"""The music and sound-effect library: the moods and effect names scenes may use."""

from __future__ import annotations

from marshmallow import Schema, fields

from web import library
from web.identity import requires
from web.openapi import Blueprint

blp = Blueprint(
    "library", __name__, url_prefix="/api/anime/library", description="The audio library"
)


class MoodsSchema(Schema):
    """The moods a scene may name (the tags of the library's music)."""

    moods = fields.List(fields.String(), required=True)


class SoundsSchema(Schema):
    """The effects a sound cue may name (the library's effect names and tags)."""

    sounds = fields.List(fields.String(), required=True)


@blp.route("/moods", methods=["GET"])
@requires()
@blp.response(200, MoodsSchema)
def list_moods():
    """Every mood the music library knows; a scene's mood must use these words."""
    return {"moods": library.list_vocabulary("music")}


@blp.route("/sounds", methods=["GET"])
@requires()
@blp.response(200, SoundsSchema)
def list_sounds():
    """Every effect name and tag the library knows; a sound cue's name must be one of these."""
    return {"sounds": library.list_vocabulary("sfx")}
