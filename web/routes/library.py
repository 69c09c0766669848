"""The music and sound-effect library: entries (list, upload, replace, delete), and the moods
and effect names scenes may use."""

from __future__ import annotations

from marshmallow import Schema, fields

from web import library
from web.identity import STAFF, requires
from web.openapi import Blueprint
from web.schemas.library import (
    EntryCreateFormSchema,
    EntryFormSchema,
    EntryQuerySchema,
    LibraryEntrySchema,
)
from web.uploads import FORM, takes_upload

AUDIO_LIMIT = "TOWER_AUDIO_UPLOAD_MAX_BYTES"

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


@blp.route("/entries", methods=["GET"])
@requires()
@blp.arguments(EntryQuerySchema, location="query")
@blp.response(200, LibraryEntrySchema(many=True))
def list_entries(query):
    """The library's music and effects, by kind and name."""
    return library.list_entries(query["kind"])


@blp.route("/entries/<int:entry_id>", methods=["GET"])
@requires()
@blp.response(200, LibraryEntrySchema)
def get_entry(entry_id):
    """One library entry."""
    return library.get_entry(entry_id)


@blp.route("/entries", methods=["POST"])
@takes_upload(AUDIO_LIMIT)
@requires(*STAFF)
@blp.arguments(EntryCreateFormSchema, location="form", content_type=FORM)
@blp.response(201, LibraryEntrySchema)
def create_entry(data):
    """Upload music (mood tags, loop points) or an effect (tags) as a multipart form of up to
    200 MiB (TOWER_AUDIO_UPLOAD_MAX_BYTES); the file is decoded and checked before it is
    stored."""
    return library.create_entry(library.uploaded_file(), data)


@blp.route("/entries/<int:entry_id>", methods=["PUT"])
@takes_upload(AUDIO_LIMIT)
@requires(*STAFF)
@blp.arguments(EntryFormSchema, location="form", content_type=FORM)
@blp.response(200, LibraryEntrySchema)
def replace_entry(data, entry_id):
    """Replace an entry's file (name and tags kept unless given; loop points cleared unless
    given)."""
    entry = library.get_entry(entry_id, lock=True)
    return library.replace_entry(entry, library.uploaded_file(), data)


@blp.route("/entries/<int:entry_id>", methods=["DELETE"])
@requires(*STAFF)
@blp.response(204)
def delete_entry(entry_id):
    """Remove an entry and its file; scenes naming its mood or name are refused from then on."""
    library.delete_entry(library.get_entry(entry_id, lock=True))
