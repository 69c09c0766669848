"""The audio library's shapes: an entry, the upload form (its fields and its file), and the
list query."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from web.schemas.common import StrictSchema, Text

KINDS = ("music", "sfx")


class Tags(fields.List):
    """Tags as a form sends them: comma-separated (or a repeated field), lower-cased."""

    def __init__(self, **kwargs) -> None:
        super().__init__(Text(min_length=1, max_length=50), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parts = value if isinstance(value, list) else [value]
        words = [w.strip().lower() for p in parts for w in str(p).split(",") if w.strip()]
        return super()._deserialize(words, attr, data, **kwargs)


class EntryFormSchema(StrictSchema):
    """The fields of an upload (POST) or replacement (PUT); the file is `file`."""

    kind = fields.String(validate=validate.OneOf(KINDS))
    name = Text(min_length=1, max_length=200)
    tags = Tags(
        validate=validate.Length(max=30),
        metadata={"description": "comma-separated, or the field repeated; lower-cased"},
    )
    loop_start_s = fields.Float(validate=validate.Range(min=0), allow_none=True)
    loop_end_s = fields.Float(validate=validate.Range(min=0), allow_none=True)
    # Read from the form's files (the parser reads its fields); here for the documentation.
    file = Upload(metadata={"description": "the audio file (required)"})


class EntryCreateFormSchema(EntryFormSchema):
    """POST /api/anime/library/entries: kind is required."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))


class EntryQuerySchema(StrictSchema):
    """GET /api/anime/library/entries."""

    kind = fields.String(validate=validate.OneOf(KINDS), load_default=None)


class LibraryEntrySchema(Schema):
    """A music or sound-effect entry as clients see it."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    tags = fields.List(fields.String(), required=True)
    duration_s = fields.Float(required=True)
    sample_rate = fields.Integer(allow_none=True)
    loudness_lufs = fields.Float(allow_none=True)
    loop_start_s = fields.Float(allow_none=True)
    loop_end_s = fields.Float(allow_none=True)
    created_at = fields.DateTime(required=True)
