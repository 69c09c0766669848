"""A whole production in one request: the rules of a production file, defined once.

The shapes reuse the row schemas (a scene here is checked exactly as `POST .../scenes` checks
it), so `tower submit`, `tower validate` and the row endpoints share one set of rules. Field
errors are named by path, `scenes.2.sfx_cues.0.gain_db`, which the client maps to its file.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from web.schemas.common import (
    MAX_DURATION_S,
    MAX_NAME,
    MAX_SCENES_PER_REQUEST,
    StrictSchema,
    Text,
)
from web.schemas.generation import RenderOptionsSchema
from web.schemas.production import (
    MAX_LINE,
    MAX_LINES,
    CharacterCreateSchema,
    EpisodeCreateSchema,
    ProjectCreateSchema,
    SceneCreateSchema,
)

MAX_CHARACTERS = 50
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ProductionLineSchema(StrictSchema):
    """A dialogue line of a production's scene: its speaker goes by name."""

    speaker = Text(required=True, min_length=1, max_length=MAX_NAME)
    text = Text(required=True, min_length=1, max_length=MAX_LINE)
    at_s = fields.Float(required=True, validate=validate.Range(min=0, max=MAX_DURATION_S))


class ProductionSceneSchema(SceneCreateSchema):
    """A scene of a production: its place in the list is its order, characters (and dialogue
    speakers) go by name."""

    class Meta(SceneCreateSchema.Meta):
        exclude = ("order", "character_ids")

    characters = fields.List(
        Text(min_length=1, max_length=MAX_NAME), load_default=list, validate=validate.Length(max=20)
    )
    dialogue = fields.List(
        fields.Nested(ProductionLineSchema),
        load_default=list,
        validate=validate.Length(max=MAX_LINES),
    )


class ProductionSchema(StrictSchema):
    """POST /api/anime/productions: a project, its characters, one episode, its scenes, and
    the render of that episode."""

    key = Text(
        load_default=None,
        min_length=1,
        max_length=100,
        validate=[validate.Regexp(KEY_PATTERN, error="letters, digits, '.', '_' and '-' only")],
        metadata={
            "description": "matches this production on a later submit (else: project name"
            " and episode number)"
        },
    )
    project = fields.Nested(ProjectCreateSchema, required=True)
    characters = fields.List(
        fields.Nested(CharacterCreateSchema),
        load_default=list,
        validate=validate.Length(max=MAX_CHARACTERS),
    )
    episode = fields.Nested(EpisodeCreateSchema, required=True)
    scenes = fields.List(
        fields.Nested(ProductionSceneSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_SCENES_PER_REQUEST),
    )
    render = fields.Nested(RenderOptionsSchema, load_default=dict)
    priority = fields.Integer(load_default=5, strict=True, validate=validate.Range(min=0, max=9))

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check_names(self, _: dict[str, Any], original: Any, **__: Any) -> None:
        """Character names are unique, and scenes (and their lines) name only the production's
        characters. Read
        from the request as sent, so these problems come with every other one.

        :raises ValidationError: naming `characters.<i>.name`, `scenes.<i>.characters.<j>` or
            `scenes.<i>.dialogue.<j>.speaker`.
        """
        problems: dict[str, Any] = {}
        known: set[str] = set()
        for index, character in enumerate(listed(original, "characters")):
            name = character.get("name") if isinstance(character, dict) else None
            if isinstance(name, str) and name in known:
                twice = [f"{name!r} is defined twice"]
                problems.setdefault("characters", {})[index] = {"name": twice}
            known.add(name)
        for index, scene in enumerate(listed(original, "scenes")):
            for place, name in enumerate(listed(scene, "characters")):
                if isinstance(name, str) and name not in known:
                    scenes = problems.setdefault("scenes", {})
                    scenes.setdefault(index, {"characters": {}})["characters"][place] = [
                        f"no character named {name!r}"
                    ]
            for place, line in enumerate(listed(scene, "dialogue")):
                name = line.get("speaker") if isinstance(line, dict) else None
                if isinstance(name, str) and name not in known:
                    lines = problems.setdefault("scenes", {}).setdefault(index, {})
                    lines.setdefault("dialogue", {})[place] = {
                        "speaker": [f"no character named {name!r}"]
                    }
        if problems:
            raise ValidationError(problems)


def listed(value: Any, name: str) -> list[Any]:
    """`value[name]` when `value` is a mapping holding a list there, else nothing."""
    items = value.get(name) if isinstance(value, dict) else None
    return items if isinstance(items, list) else []


class ProductionQuerySchema(StrictSchema):
    """`?dry_run=true`: check everything, create nothing."""

    dry_run = fields.Boolean(load_default=False)


class WarningSchema(StrictSchema):
    """Something that does not refuse the production but may keep its render waiting."""

    field = fields.String(required=True, metadata={"description": "e.g. characters.0.lora_name"})
    message = fields.String(required=True)


class ProductionResultSchema(StrictSchema):
    """What a production request did (or, in a dry run, would do)."""

    result = fields.String(
        required=True,
        validate=validate.OneOf(["created", "updated"]),
        metadata={
            "description": "created: a new episode (and project); updated: the same file"
            " was submitted before"
        },
    )
    dry_run = fields.Boolean(required=True)
    project_id = fields.Integer(required=True, allow_none=True)
    episode_id = fields.Integer(required=True, allow_none=True)
    character_ids = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    scene_ids = fields.List(fields.Integer(), required=True)
    request_id = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, allow_none=True)
    status_url = fields.String(required=True, allow_none=True)
    warnings = fields.List(
        fields.Nested(WarningSchema),
        required=True,
        metadata={
            "description": "what may keep the render waiting (e.g. a LoRA no online node has)"
        },
    )
