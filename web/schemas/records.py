"""Jobs, workflows and assets as clients list and read them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.models import JobKind
from shared.models.status import JOB_STATUSES
from shared.stages import TEMPLATE_STAGES
from web.schemas.common import (
    MAX_ID,
    JsonObject,
    PageQuerySchema,
    StrictSchema,
    Text,
    UtcDateTime,
    page_schema,
)
from web.schemas.episode_meta import EpisodeMetaFields
from web.schemas.generation import JobNamesSchema

WORKFLOW_NAME = r"^[a-z0-9][a-z0-9_.-]{0,99}$"


class JobQuerySchema(PageQuerySchema):
    """GET /api/anime/jobs filters."""

    status = fields.String(validate=validate.OneOf(list(JOB_STATUSES)))
    kind = fields.String(validate=validate.OneOf([k.value for k in JobKind]))
    project_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    owner_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    created_after = UtcDateTime(default_timezone=None)
    created_before = UtcDateTime(default_timezone=None)


class JobSchema(JobNamesSchema):
    """A job in a list."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    owner_id = fields.Integer(required=True)
    project_id = fields.Integer(required=True)
    episode_id = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True)
    priority = fields.Integer(required=True)
    progress = fields.Float(required=True)
    current_stage = fields.String(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    started_at = fields.DateTime(required=True, allow_none=True)
    finished_at = fields.DateTime(required=True, allow_none=True)


class WorkflowQuerySchema(StrictSchema):
    """GET /api/anime/workflows filters."""

    stage = fields.String(validate=validate.OneOf(list(TEMPLATE_STAGES)))
    name = Text(max_length=100)
    active = fields.Boolean()


class WorkflowSchema(Schema):
    """A stored workflow version (without its graph)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    stage = fields.String(required=True)
    version = fields.Integer(required=True)
    description = fields.String(required=True)
    is_active = fields.Boolean(required=True)
    owner_id = fields.Integer(required=True, allow_none=True)
    node_classes = fields.List(fields.String(), required=True)
    models = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
    created_at = fields.DateTime(required=True)


class WorkflowDetailSchema(WorkflowSchema):
    """A stored workflow version with its graph, bindings and expected outputs."""

    graph = fields.Dict(required=True)
    bindings = fields.Dict(required=True)
    outputs = fields.Raw(required=True)


class WorkflowUploadSchema(StrictSchema):
    """POST /api/anime/workflows: an exported API-format graph with named bindings."""

    name = fields.String(required=True, validate=validate.Regexp(WORKFLOW_NAME))
    stage = fields.String(required=True, validate=validate.OneOf(list(TEMPLATE_STAGES)))
    graph = JsonObject(required=True)
    bindings = JsonObject(required=True)
    outputs = fields.List(JsonObject(), load_default=None, validate=validate.Length(max=20))
    description = Text(load_default="", max_length=2000)
    activate = fields.Boolean(load_default=False)


class AssetSchema(EpisodeMetaFields):
    """An artifact's metadata and where to download it."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    mime_type = fields.String(required=True)
    size_bytes = fields.Integer(required=True)
    width = fields.Integer(required=True, allow_none=True)
    height = fields.Integer(required=True, allow_none=True)
    frames = fields.Integer(required=True, allow_none=True)
    fps = fields.Float(required=True, allow_none=True)
    duration_s = fields.Float(required=True, allow_none=True)
    sha256 = fields.String(required=True, allow_none=True)
    job_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    superseded_at = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={
            "description": "when a later attempt of its stage replaced it (null: current); "
            "it is removed superseded_output_days after"
        },
    )
    url = fields.String(required=True)


JobPageSchema = page_schema(JobSchema, "JobPage")
