"""Projects, characters, episodes and scenes: create, update and read shapes."""

from __future__ import annotations

from flask import url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.models import Transition
from web.schemas.common import (
    MAX_DURATION_S,
    MAX_EPISODE_NUMBER,
    MAX_NAME,
    MAX_PROMPT,
    MAX_SCENE_ORDER,
    MAX_SCENE_SEED,
    MAX_SCENES_PER_EPISODE,
    Id,
    StrictSchema,
    Text,
    page_schema,
    within_scene_limit,
)

TRANSITIONS = [t.value for t in Transition]
MOODS_MAX = 50
MAX_LINES = 50  # dialogue lines per scene
MAX_LINE = 500  # characters per line
MAX_VOICE = 100


class Voice(Text):
    """An espeak-ng voice name, optionally with a variant (`en-us`, `fr+f3`); empty: the default
    one derived from the character's name."""

    def __init__(self, **kwargs: object) -> None:
        pattern = validate.Regexp(r"^[A-Za-z0-9_+\-]*$", error="letters, digits, _ - + only")
        super().__init__(max_length=MAX_VOICE, validate=[pattern], **kwargs)


class ProjectCreateSchema(StrictSchema):
    """POST /api/anime/projects."""

    name = Text(required=True, min_length=1, max_length=MAX_NAME)
    description = Text(load_default="")
    style = Text(load_default="", max_length=500)
    is_public = fields.Boolean(load_default=False)


class ProjectUpdateSchema(StrictSchema):
    """PATCH /api/anime/projects/{id}: any subset."""

    name = Text(min_length=1, max_length=MAX_NAME)
    description = Text()
    style = Text(max_length=500)
    is_public = fields.Boolean()


class ProjectSchema(Schema):
    """A project as clients see it."""

    id = fields.Integer(required=True)
    owner_id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    style = fields.String(required=True)
    is_public = fields.Boolean(required=True)
    production_key = fields.String(
        allow_none=True, metadata={"description": "the `key` of the production file, if any"}
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class CharacterCreateSchema(StrictSchema):
    """POST /api/anime/projects/{id}/characters."""

    name = Text(required=True, min_length=1, max_length=MAX_NAME)
    description = Text(load_default="")
    lora_name = Text(load_default=None, allow_none=True, max_length=255)
    lora_strength = fields.Float(load_default=0.8, validate=validate.Range(min=-10, max=10))
    trigger_words = Text(load_default="", max_length=500)
    voice = Voice(load_default="")


class CharacterUpdateSchema(StrictSchema):
    """PATCH /api/anime/characters/{id}."""

    name = Text(min_length=1, max_length=MAX_NAME)
    description = Text()
    lora_name = Text(allow_none=True, max_length=255)
    lora_strength = fields.Float(validate=validate.Range(min=-10, max=10))
    trigger_words = Text(max_length=500)
    voice = Voice()


def reference_url(asset_id: int | None) -> str | None:
    """Where a character's reference sheet is downloaded, if it has one."""
    if asset_id is None:
        return None
    return url_for("assets.get_asset_content", asset_id=asset_id)


class CharacterSchema(Schema):
    """A character as clients see it."""

    id = fields.Integer(required=True)
    project_id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    lora_name = fields.String(required=True, allow_none=True)
    lora_strength = fields.Float(required=True)
    trigger_words = fields.String(required=True)
    voice = fields.String(required=True)
    reference_asset_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the reference sheet its generate job rendered"},
    )
    reference_url = fields.Function(
        lambda c: reference_url(c.reference_asset_id), required=True, allow_none=True
    )
    created_at = fields.DateTime(required=True)
    warnings = fields.List(
        fields.String(),
        dump_default=list,
        metadata={"description": "on create and update: e.g. no online node has the LoRA"},
    )


class EpisodeCreateSchema(StrictSchema):
    """POST /api/anime/projects/{id}/episodes."""

    number = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_EPISODE_NUMBER)
    )
    title = Text(required=True, min_length=1, max_length=300)
    fps = fields.Integer(load_default=16, strict=True, validate=validate.Range(min=1, max=60))
    width = fields.Integer(load_default=512, strict=True, validate=validate.Range(min=64, max=2048))
    height = fields.Integer(
        load_default=288, strict=True, validate=validate.Range(min=64, max=2048)
    )


class EpisodeUpdateSchema(StrictSchema):
    """PATCH /api/anime/episodes/{id}."""

    number = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_EPISODE_NUMBER))
    title = Text(min_length=1, max_length=300)
    fps = fields.Integer(strict=True, validate=validate.Range(min=1, max=60))
    width = fields.Integer(strict=True, validate=validate.Range(min=64, max=2048))
    height = fields.Integer(strict=True, validate=validate.Range(min=64, max=2048))


class EpisodeSchema(Schema):
    """An episode as clients see it."""

    id = fields.Integer(required=True)
    project_id = fields.Integer(required=True)
    number = fields.Integer(required=True)
    title = fields.String(required=True)
    fps = fields.Integer(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


class SfxCueSchema(StrictSchema):
    """A sound effect at a time into its scene, chosen from the library by name or tag."""

    name = Text(required=True, min_length=1, max_length=100)
    at_s = fields.Float(required=True, validate=validate.Range(min=0, max=MAX_DURATION_S))
    gain_db = fields.Float(load_default=0.0, validate=validate.Range(min=-30, max=12))


class DialogueLineSchema(StrictSchema):
    """A line spoken by one of the project's characters, `at_s` seconds into its scene."""

    character_id = Id(required=True)
    text = Text(required=True, min_length=1, max_length=MAX_LINE)
    at_s = fields.Float(required=True, validate=validate.Range(min=0, max=MAX_DURATION_S))


class CuesInsideScene(StrictSchema):
    """Each sound effect and line must start inside its scene (when the request gives the
    duration; otherwise the service checks against the stored one)."""

    @validates_schema
    def check_cues_inside(self, data: dict, **_: object) -> None:
        """Refuse an effect or a line that would start after the scene ends."""
        duration = data.get("duration_s")
        for name in ("sfx_cues", "dialogue"):
            for index, cue in enumerate(data.get(name) or ()):
                if duration is not None and cue["at_s"] >= duration:
                    raise ValidationError(
                        f"starts at {cue['at_s']} s, after the scene's {duration} s",
                        field_name=f"{name}.{index}.at_s",
                    )


class SceneCreateSchema(CuesInsideScene):
    """POST /api/anime/episodes/{id}/scenes."""

    order = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=MAX_SCENE_ORDER)
    )
    prompt = Text(required=True, min_length=1, max_length=MAX_PROMPT)
    negative_prompt = Text(load_default="", max_length=MAX_PROMPT)
    character_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=20))
    duration_s = fields.Float(
        required=True,
        validate=[validate.Range(min=0.1, max=MAX_DURATION_S), within_scene_limit],
    )
    mood = Text(load_default="calm", min_length=1, max_length=MOODS_MAX)
    motion = Text(load_default="", max_length=200)
    transition = fields.String(load_default="cut", validate=validate.OneOf(TRANSITIONS))
    transition_s = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=5))
    seed = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_SCENE_SEED),
    )
    sfx_cues = fields.List(
        fields.Nested(SfxCueSchema), load_default=list, validate=validate.Length(max=20)
    )
    dialogue = fields.List(
        fields.Nested(DialogueLineSchema),
        load_default=list,
        validate=validate.Length(max=MAX_LINES),
    )


class SceneUpdateSchema(CuesInsideScene):
    """PATCH /api/anime/scenes/{id}."""

    order = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_SCENE_ORDER))
    prompt = Text(min_length=1, max_length=MAX_PROMPT)
    negative_prompt = Text(max_length=MAX_PROMPT)
    character_ids = fields.List(Id(), validate=validate.Length(max=20))
    duration_s = fields.Float(
        validate=[validate.Range(min=0.1, max=MAX_DURATION_S), within_scene_limit]
    )
    mood = Text(min_length=1, max_length=MOODS_MAX)
    motion = Text(max_length=200)
    transition = fields.String(validate=validate.OneOf(TRANSITIONS))
    transition_s = fields.Float(validate=validate.Range(min=0, max=5))
    seed = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=0, max=MAX_SCENE_SEED)
    )
    sfx_cues = fields.List(fields.Nested(SfxCueSchema), validate=validate.Length(max=20))
    dialogue = fields.List(
        fields.Nested(DialogueLineSchema), validate=validate.Length(max=MAX_LINES)
    )


class SceneReorderSchema(StrictSchema):
    """POST /api/anime/episodes/{id}/scenes/reorder: every scene id, in the new order."""

    # As many as an episode may hold: a reorder must list all of them (it was capped at the
    # 100 scenes of one request, so a longer episode could never be reordered).
    scene_ids = fields.List(
        Id(), required=True, validate=validate.Length(min=1, max=MAX_SCENES_PER_EPISODE)
    )


class SceneSchema(Schema):
    """A scene as clients see it."""

    id = fields.Integer(required=True)
    episode_id = fields.Integer(required=True)
    order = fields.Integer(required=True)
    prompt = fields.String(required=True)
    negative_prompt = fields.String(required=True)
    character_ids = fields.Pluck(
        CharacterSchema, "id", many=True, attribute="characters", required=True
    )
    duration_s = fields.Float(required=True)
    mood = fields.String(required=True)
    motion = fields.String(required=True)
    transition = fields.String(required=True)
    transition_s = fields.Float(required=True)
    seed = fields.Integer(required=True, allow_none=True)
    sfx_cues = fields.List(fields.Dict(), required=True)
    dialogue = fields.List(fields.Nested(DialogueLineSchema), required=True)
    created_at = fields.DateTime(required=True)


ProjectPageSchema = page_schema(ProjectSchema, "ProjectPage")
CharacterPageSchema = page_schema(CharacterSchema, "CharacterPage")
EpisodePageSchema = page_schema(EpisodeSchema, "EpisodePage")
ScenePageSchema = page_schema(SceneSchema, "ScenePage")
