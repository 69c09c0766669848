"""Echo Brain's requests and answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.models import EchoFeature
from web.schemas.common import MAX_PROMPT, Id, JsonObject, PageQuerySchema, StrictSchema, Text

MAX_BRIEF = 2000


class EnhanceSchema(StrictSchema):
    """POST /echo/enhance-prompt."""

    prompt = Text(required=True, min_length=1, max_length=MAX_PROMPT)
    project_id = Id(load_default=None)
    character_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=20))
    style = Text(load_default="", max_length=500)


class EnhancedSchema(Schema):
    """The enhanced prompt, what was added, and the suggestion it was kept as."""

    prompt = fields.String(required=True)
    negative_prompt = fields.String(required=True)
    added = fields.List(fields.String(), required=True)
    suggestion_id = fields.Integer(required=True)
    model = fields.String(required=True)


class ScenesAskSchema(StrictSchema):
    """POST /echo/episodes/{id}/scenes and /echo/episodes/{id}/continue."""

    count = fields.Integer(load_default=3, strict=True, validate=validate.Range(min=1, max=10))
    brief = Text(load_default="", max_length=MAX_BRIEF)


class DialogueAskSchema(StrictSchema):
    """POST /echo/scenes/{id}/dialogue."""

    max_lines = fields.Integer(load_default=4, strict=True, validate=validate.Range(min=1, max=20))
    brief = Text(load_default="", max_length=MAX_BRIEF)


class BrainstormAskSchema(StrictSchema):
    """POST /echo/projects/{id}/brainstorm."""

    topic = Text(load_default="", max_length=MAX_BRIEF)


class AcceptSchema(StrictSchema):
    """POST /echo/suggestions/{id}/accept."""

    replace = fields.Boolean(load_default=False)


class SuggestionQuerySchema(PageQuerySchema):
    """GET /echo/projects/{id}/suggestions."""

    feature = fields.String(
        load_default=None, validate=validate.OneOf([f.value for f in EchoFeature])
    )


class SuggestionSchema(Schema):
    """One kept answer of Echo Brain."""

    id = fields.Integer(required=True)
    owner_id = fields.Integer(required=True)
    project_id = fields.Integer(required=True, allow_none=True)
    episode_id = fields.Integer(required=True, allow_none=True)
    scene_id = fields.Integer(required=True, allow_none=True)
    feature = fields.String(required=True)
    input = JsonObject(required=True)
    model = fields.String(required=True)
    output = JsonObject(required=True)
    latency_ms = fields.Integer(required=True)
    accepted = fields.Boolean(required=True)
    accepted_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class AcceptedSuggestionSchema(Schema):
    """An accepted suggestion and the rows it wrote."""

    suggestion = fields.Nested(SuggestionSchema, required=True)
    episode_id = fields.Integer(required=True, allow_none=True)
    scene_ids = fields.List(fields.Integer(), required=True)


SuggestionPageSchema = Schema.from_dict(
    {
        "items": fields.List(fields.Nested(SuggestionSchema), required=True),
        "next_cursor": fields.String(allow_none=True, required=True),
    },
    name="SuggestionPage",
)
