"""Generation requests (the issue-4 contract and the two presets) and the status report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.models import JobKind
from tasks.pipeline.render_options import (
    BOUNDS,
    STAGE_NAMES,
    STAGE_PARAMS,
    WORKFLOW_NAMES,
    extra_data_problems,
    stage_override_problems,
    upscale_problems,
)
from web.schemas.common import (
    MAX_DURATION_S,
    MAX_NAME,
    MAX_PROMPT,
    MAX_SCENE_SEED,
    MAX_SCENES_PER_REQUEST,
    Id,
    JsonObject,
    StrictSchema,
    Text,
    within_scene_limit,
)
from web.schemas.episode_meta import EpisodeMetaFields

GPU_STAGES = list(STAGE_NAMES)
PROJECT_KINDS = [JobKind.EPISODE.value, JobKind.SCENE.value, JobKind.IMAGE.value]
MAX_INTEGRATED_SCENES = 12


def bounded(name: str) -> fields.Field:
    """The field of a top-level render option, with the one range `BOUNDS` defines for it
    (the range is documented in the OpenAPI schema as well)."""
    bound = BOUNDS[name]
    if bound.choices:
        if isinstance(bound.choices[0], int):
            return fields.Integer(strict=True, validate=validate.OneOf(bound.choices))
        return fields.String(validate=validate.OneOf(bound.choices))
    if bound.max_length is not None:
        return Text(min_length=1, max_length=bound.max_length)
    checks: list[Callable[[Any], Any]] = [validate.Range(min=bound.low, max=bound.high)]
    if bound.multiple_of:
        checks.append(multiple_of(bound.multiple_of))
    return fields.Integer(strict=True, validate=checks)


def multiple_of(step: int) -> Callable[[Any], None]:
    """A validator for sizes such as image widths (latent space is 1/8 the size)."""

    def check(value: Any) -> None:
        if value % step:
            raise ValidationError(f"must be a multiple of {step}")

    return check


def nested_problems(problems: dict[str, str]) -> dict[str, Any]:
    """`{"keyframe.steps": msg}` as marshmallow's nested messages, so the error names
    `options.stages.keyframe.steps`."""
    tree: dict[str, Any] = {}
    for key, message in problems.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf or "_schema"] = [message]
    return tree


class RenderOptionsSchema(StrictSchema):
    """What a client may tune per job; per-stage overrides take only the listed parameters,
    within the same bounds (the planner checks the values against the workflows too)."""

    seed = bounded("seed")
    steps = bounded("steps")
    frames = bounded("frames")
    fps = bounded("fps")
    width = bounded("width")
    height = bounded("height")
    multiplier = bounded("multiplier")
    engine = bounded("engine")
    checkpoint = bounded("checkpoint")
    use_references = fields.Boolean(
        truthy={True},
        falsy={False},
        metadata={
            "description": "keyframes of a scene showing exactly one character that has a "
            "reference sheet start from the sheet (image-to-image)"
        },
    )
    workflows = fields.Dict(
        keys=fields.String(validate=validate.OneOf(WORKFLOW_NAMES)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1, max=100000)),
    )
    stages = fields.Dict(
        keys=fields.String(validate=validate.OneOf(GPU_STAGES)),
        values=JsonObject(),
        metadata={
            "description": "per-stage parameters: "
            + "; ".join(f"{name}: {', '.join(params)}" for name, params in STAGE_PARAMS.items())
        },
    )
    extra_data = fields.Dict(
        keys=fields.String(validate=validate.OneOf(GPU_STAGES)),
        values=JsonObject(),
        metadata={"description": "sent with a stage's prompt as ComfyUI's extra_data"},
    )
    upscale = JsonObject(
        allow_none=True,
        metadata={"description": '{"factor": 2} or {"height": 720}; model and method optional'},
    )

    @validates_schema
    def check_stages(self, data: dict[str, Any], **_: Any) -> None:
        """Per-stage overrides within the stage's parameters and the options' bounds.

        :raises ValidationError: naming `stages.<stage>.<parameter>`.
        """
        problems = {}
        if "stages" in data:
            problems["stages"] = nested_problems(
                stage_override_problems(data["stages"], data.get("engine", "animatediff"))
            )
        if "extra_data" in data:
            problems["extra_data"] = nested_problems(extra_data_problems(data["extra_data"]))
        if data.get("upscale") is not None:
            problems["upscale"] = nested_problems(upscale_problems(data["upscale"]))
        problems = {name: tree for name, tree in problems.items() if tree}
        if problems:
            raise ValidationError(problems)


class GenerateSchema(StrictSchema):
    """POST /api/anime/projects/{id}/generate."""

    kind = fields.String(required=True, validate=validate.OneOf(PROJECT_KINDS))
    episode_id = Id(load_default=None)
    scene_ids = fields.List(
        Id(), load_default=None, validate=validate.Length(min=1, max=MAX_SCENES_PER_REQUEST)
    )
    options = fields.Nested(RenderOptionsSchema, load_default=dict)
    priority = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=0, max=9))


class SceneGenerateSchema(StrictSchema):
    """POST /api/anime/scenes/{id}/generate: the scene as a clip, or only its keyframe."""

    kind = fields.String(load_default="scene", validate=validate.OneOf(["scene", "image"]))
    options = fields.Nested(RenderOptionsSchema, load_default=dict)
    priority = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=0, max=9))


class RetakeSchema(StrictSchema):
    """POST /api/anime/scenes/{id}/retake: re-render one scene and recompile its episode."""

    # It becomes the scene's own seed, so it takes the scene's bound (not the job options'
    # 2**63 - 1, which left a seed the scene's own PATCH and production file refuse).
    seed = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_SCENE_SEED))
    prompt = Text(min_length=1, max_length=MAX_PROMPT)


class CharacterGenerateSchema(StrictSchema):
    """POST /api/anime/characters/{id}/generate: a reference sheet (keyframe only)."""

    options = fields.Nested(RenderOptionsSchema, load_default=dict)
    priority = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=0, max=9))


class RetrySchema(StrictSchema):
    """POST /api/anime/generation/{id}/retry: one stage run, or every failed one."""

    stage_id = Id(load_default=None)


class IntegratedSchema(StrictSchema):
    """POST /generate/integrated: a text brief to a finished scene (or a few)."""

    brief = Text(required=True, min_length=1, max_length=MAX_PROMPT)
    title = Text(load_default="", max_length=300)
    style = Text(load_default="", max_length=500)
    project_id = Id(load_default=None)
    character_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=20))
    scenes = fields.Integer(
        load_default=1, strict=True, validate=validate.Range(min=1, max=MAX_INTEGRATED_SCENES)
    )
    duration_s = fields.Float(
        load_default=2.0,
        validate=[validate.Range(min=0.5, max=MAX_DURATION_S), within_scene_limit],
    )
    mood = Text(load_default="calm", min_length=1, max_length=50)
    negative_prompt = Text(load_default="", max_length=MAX_PROMPT)
    options = fields.Nested(RenderOptionsSchema, load_default=dict)
    priority = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=0, max=9))

    @validates_schema
    def check_project_name(self, data: dict[str, Any], **_: Any) -> None:
        """Without a project_id the title also names the new project, whose names are shorter
        than episode titles (past them, Postgres refused the row, naming no field).

        :raises ValidationError: naming `title`.
        """
        if data.get("project_id") is None and len(data.get("title", "")) > MAX_NAME:
            raise ValidationError(
                f"names the new project: at most {MAX_NAME} characters", field_name="title"
            )


class ProfessionalSchema(StrictSchema):
    """POST /generate/professional: every stage's parameters and workflow versions explicit."""

    project_id = Id(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([*PROJECT_KINDS, "character"]))
    episode_id = Id(load_default=None)
    scene_ids = fields.List(
        Id(), load_default=None, validate=validate.Length(min=1, max=MAX_SCENES_PER_REQUEST)
    )
    character_id = Id(load_default=None)
    workflows = fields.Dict(
        keys=fields.String(validate=validate.OneOf(WORKFLOW_NAMES)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1, max=100000)),
        load_default=dict,
    )
    stages = fields.Dict(
        keys=fields.String(validate=validate.OneOf(GPU_STAGES)),
        values=JsonObject(),
        load_default=dict,
    )
    options = fields.Nested(RenderOptionsSchema, load_default=dict)
    priority = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=0, max=9))

    @validates_schema
    def check_stages(self, data: dict[str, Any], **_: Any) -> None:
        """The top-level stages take the same parameters and bounds as `options.stages`.

        :raises ValidationError: naming `stages.<stage>.<parameter>`.
        """
        engine = data.get("options", {}).get("engine", "animatediff")
        problems = nested_problems(stage_override_problems(data.get("stages", {}), engine))
        if problems:
            raise ValidationError({"stages": problems})


class AcceptedSchema(Schema):
    """202: the job is queued; poll status_url (or stream its events)."""

    request_id = fields.Integer(required=True)
    status = fields.String(required=True)
    status_url = fields.String(required=True)


class IntegratedAcceptedSchema(AcceptedSchema):
    """202 for the integrated preset, with what it created."""

    project_id = fields.Integer(required=True)
    episode_id = fields.Integer(required=True)
    scene_ids = fields.List(fields.Integer(), required=True)


class OutputSchema(EpisodeMetaFields):
    """One output artifact of a stage or job."""

    asset_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    url = fields.String(required=True)


class ErrorDetailSchema(Schema):
    """Why a stage failed (or was skipped): Tower's error code and, for ComfyUI failures, the
    graph node that raised."""

    code = fields.String(required=True, allow_none=True)
    type = fields.String(required=True, allow_none=True)
    node_id = fields.String(required=True, allow_none=True)
    node_type = fields.String(required=True, allow_none=True)
    exception_type = fields.String(required=True, allow_none=True)
    message = fields.String(required=True)


class StageStatusSchema(Schema):
    """One stage run (one attempt of one stage for one scene or the episode)."""

    id = fields.Integer(required=True)
    scene_id = fields.Integer(required=True, allow_none=True)
    scene_order = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The scene's order in its episode; null for episode stages"},
    )
    next_scene_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "A generated bridge's second scene (it starts at scene_id)"},
    )
    segment = fields.Integer(
        required=True,
        metadata={"description": "Which consecutive piece of a long scene it renders (0 on)"},
    )
    stage = fields.String(required=True)
    status = fields.String(required=True)
    attempt = fields.Integer(required=True)
    progress = fields.Float(required=True)
    backend = fields.String(
        required=True, allow_none=True, metadata={"description": "The GPU node it ran on"}
    )
    comfy_node = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The ComfyUI graph node id last executing"},
    )
    prompt_id = fields.String(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    error_detail = fields.Nested(ErrorDetailSchema, required=True, allow_none=True)
    outputs = fields.List(fields.Nested(OutputSchema), required=True)
    queued_at = fields.DateTime(required=True)
    started_at = fields.DateTime(required=True, allow_none=True)
    finished_at = fields.DateTime(required=True, allow_none=True)
    step = fields.Integer(allow_none=True)
    max = fields.Integer(allow_none=True)
    node = fields.String(
        allow_none=True, metadata={"description": "Deprecated: the same as comfy_node"}
    )
    waiting_for = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "why a queued stage has not started (null once it has)"},
    )


class JobNamesSchema(Schema):
    """What people call a job: its production's names and the stem of its output files."""

    project_name = fields.String(required=True)
    episode_number = fields.Integer(required=True, allow_none=True)
    episode_title = fields.String(required=True, allow_none=True)
    file_stem = fields.String(
        required=True, metadata={"description": "`<project>-ep<N>-<title>`, slugged"}
    )
    failed_stage = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the stage that failed for good (`animate of scene 2`)"},
    )


class JobStatusSchema(JobNamesSchema):
    """GET /api/anime/generation/{id}/status."""

    request_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    project_id = fields.Integer(required=True)
    episode_id = fields.Integer(required=True, allow_none=True)
    priority = fields.Integer(required=True, metadata={"description": "0-9, 9 the most urgent"})
    status = fields.String(required=True)
    progress = fields.Float(required=True)
    current_stage = fields.String(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    eta_s = fields.Float(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    stages = fields.List(fields.Nested(StageStatusSchema), required=True)
    outputs = fields.List(fields.Nested(OutputSchema), required=True)
