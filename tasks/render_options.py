"""Render options of a job: parsed, range-checked, with defaults (stored on the job's rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.errors import ValidationError
from shared.stages import GPU_STAGE_NAMES, TEMPLATE_STAGES

ENGINES = ("animatediff", "svd")


@dataclass(frozen=True)
class RenderOptions:
    """What a client may tune per job; every field has a default."""

    seed: int | None = None
    steps: int = 20
    frames: int | None = None  # animate frames; default from the scene's duration
    fps: int = 8  # animate frame rate; the episode runs at fps * multiplier
    width: int | None = None  # default: the episode's size
    height: int | None = None
    multiplier: int = 2
    engine: str = "animatediff"
    checkpoint: str | None = None
    # Upscale each scene's clip: {"factor": 2} or {"height": 720}; "model" (an upscale model
    # file the nodes have) and "method" (the resampling) optional.
    upscale: dict[str, Any] | None = None
    workflows: dict[str, int] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Sent with a stage's prompt as ComfyUI's extra_data (kept in its history).
    extra_data: dict[str, dict[str, Any]] = field(default_factory=dict)


# name -> (type, min, max)
_NUMBERS: dict[str, tuple[type, int, int]] = {
    "seed": (int, 0, 2**63 - 1),
    "steps": (int, 1, 150),
    "frames": (int, 2, 64),
    "fps": (int, 1, 60),
    "width": (int, 16, 2048),
    "height": (int, 16, 2048),
}


def parse_options(raw: dict[str, Any] | None) -> RenderOptions:
    """Check a client's options.

    :raises ValidationError: naming each bad field as `options.<name>`.
    """
    raw = dict(raw or {})
    fields: dict[str, str] = {}
    known = set(RenderOptions.__dataclass_fields__)
    for name in sorted(set(raw) - known):
        fields[f"options.{name}"] = "unknown option"
    for name, (kind, low, high) in _NUMBERS.items():
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            fields[f"options.{name}"] = "must be an integer"
        elif not low <= value <= high:
            fields[f"options.{name}"] = f"must be between {low} and {high}"
        elif name in ("width", "height") and value % 8:
            fields[f"options.{name}"] = "must be a multiple of 8"
    if raw.get("multiplier", 2) not in (2, 4):
        fields["options.multiplier"] = "must be 2 or 4"
    if raw.get("engine", "animatediff") not in ENGINES:
        fields["options.engine"] = f"must be one of {', '.join(ENGINES)}"
    if "checkpoint" in raw and not isinstance(raw["checkpoint"], str):
        fields["options.checkpoint"] = "must be a model file name"
    fields.update(check_upscale(raw.get("upscale")))
    fields.update(_check_mapping(raw, "workflows", lambda v: isinstance(v, int) and v >= 1,
                                 "must map a stage to a version number"))
    fields.update(_check_mapping(raw, "stages", lambda v: isinstance(v, dict),
                                 "must map a stage to its parameters"))
    fields.update(_check_mapping(raw, "extra_data", lambda v: isinstance(v, dict),
                                 "must map a stage to an object"))
    if fields:
        raise ValidationError("invalid render options", fields=fields)
    return RenderOptions(**{k: v for k, v in raw.items() if v is not None})


UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
MAX_UPSCALE_FACTOR = 4
MAX_UPSCALED_HEIGHT = 4096


def check_upscale(value: Any) -> dict[str, str]:
    """Problems of an `upscale` option, by field."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return {"options.upscale": 'must be an object: {"factor": 2} or {"height": 720}'}
    problems = {f"options.upscale.{k}": "unknown field"
                for k in set(value) - {"factor", "height", "model", "method"}}
    if ("factor" in value) == ("height" in value):
        problems["options.upscale"] = "give exactly one of factor or height"
    factor, height = value.get("factor"), value.get("height")
    if "factor" in value and (isinstance(factor, bool) or not isinstance(factor, int | float)
                              or not 1 < factor <= MAX_UPSCALE_FACTOR):
        problems["options.upscale.factor"] = f"must be a number above 1, at most " \
                                             f"{MAX_UPSCALE_FACTOR}"
    if "height" in value and (isinstance(height, bool) or not isinstance(height, int)
                              or not 64 <= height <= MAX_UPSCALED_HEIGHT or height % 8):
        problems["options.upscale.height"] = f"must be a multiple of 8 from 64 to " \
                                             f"{MAX_UPSCALED_HEIGHT}"
    model = value.get("model")
    if "model" in value and (not isinstance(model, str) or not model
                             or any(c in model for c in "/\\") or model.startswith(".")):
        problems["options.upscale.model"] = "must be an upscale model's file name"
    if "method" in value and value["method"] not in UPSCALE_METHODS:
        problems["options.upscale.method"] = f"must be one of {', '.join(UPSCALE_METHODS)}"
    return problems


def _check_mapping(raw: dict[str, Any], name: str, ok, problem: str) -> dict[str, str]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        return {f"options.{name}": problem}
    bad = {}
    for stage, item in value.items():
        if stage not in (*GPU_STAGE_NAMES, *TEMPLATE_STAGES) or not ok(item):
            bad[f"options.{name}.{stage}"] = problem
    return bad
