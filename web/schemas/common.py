"""Building blocks every schema uses: strict strings, limits and the page envelope."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.settings_store import get_setting

MAX_ID = 2**63 - 1
MAX_NAME = 200
MAX_TEXT = 5000
MAX_PROMPT = 2000
MAX_PAGE = 200
MAX_SCENES_PER_REQUEST = 100
# A scene's place in its episode; orders are unique per episode, so an episode holds at most
# MAX_SCENE_ORDER + 1 scenes (a reorder lists every one of them).
MAX_SCENE_ORDER = 10000
MAX_SCENES_PER_EPISODE = MAX_SCENE_ORDER + 1
# The highest episode number in a project.
MAX_EPISODE_NUMBER = 10000
# A scene's own seed: exact in every JSON client (JavaScript's integers stop at 2**53).
MAX_SCENE_SEED = 2**53
# An absolute ceiling; the farm's own limit is the scene_max_s setting.
MAX_DURATION_S = 3600.0


def check_storable(value: str) -> None:
    """Reject text Postgres cannot store (NUL bytes, lone surrogates).

    :raises ValidationError: for such text.
    """
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("must be valid Unicode text") from exc


def check_storable_json(value: Any) -> None:
    """Reject JSON that Postgres's jsonb cannot store: strings (keys or values) it refuses,
    and NaN or Infinity (which Python's parser reads, but JSON has no such numbers).

    :raises ValidationError: for such a document.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("must not contain NaN or Infinity")
    if isinstance(value, str):
        check_storable(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(str(key))
            check_storable_json(item)
    elif isinstance(value, list):
        for item in value:
            check_storable_json(item)


def within_scene_limit(value: float) -> None:
    """Refuse a scene longer than this farm renders (its scene_max_s setting).

    :raises ValidationError: naming the limit.
    """
    limit = float(get_setting("scene_max_s"))
    if value > limit:
        raise ValidationError(f"{value:g} s is longer than this farm's limit of {limit:g} s")


class Text(fields.String):
    """A string Postgres can store, optionally length-limited."""

    def __init__(self, *, max_length: int = MAX_TEXT, min_length: int = 0, **kwargs: Any) -> None:
        validators = [check_storable, validate.Length(min=min_length, max=max_length)]
        validators.extend(kwargs.pop("validate", None) or [])
        super().__init__(validate=validators, **kwargs)


class Id(fields.Integer):
    """A row id: a positive 64-bit integer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class JsonObject(fields.Dict):
    """A free-form JSON object whose strings Postgres can store."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), validate=check_storable_json, **kwargs)


def as_utc(moment: datetime) -> datetime:
    """An aware moment in UTC. Postgres refuses offsets past 15:59 that ISO 8601 (and Python)
    allow, so a timestamp is sent in UTC whatever offset it was given with.

    :raises OverflowError: when the moment in UTC falls outside years 1-9999.
    """
    return moment.astimezone(UTC)


class UtcDateTime(fields.AwareDateTime):
    """A timestamp with an offset (any ISO 8601 allows), loaded as UTC."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        """The timestamp in UTC.

        :raises ValidationError: when it has no offset, or is out of range in UTC.
        """
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return as_utc(moment)
        except OverflowError as exc:
            raise ValidationError("is out of range once converted to UTC") from exc


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE


class PageQuerySchema(StrictSchema):
    """Keyset pagination: how many, and the cursor a previous page returned."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = Text(max_length=200, load_default=None)


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A page envelope {"items": [...], "next_cursor"} around `item`."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(allow_none=True, required=True),
        },
        name=name,
    )
