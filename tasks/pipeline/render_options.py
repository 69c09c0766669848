"""Render options of a job: parsed, range-checked, with defaults (stored on the job's rows).

`BOUNDS` is the one definition of every tunable value's range: the web schema documents and
checks the top-level options with it, and per-stage overrides (`options.stages.<stage>`) take
only the parameters `STAGE_PARAMS` lists, checked against the same bounds, so no path around
the caps exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.errors import ValidationError
from shared.settings_store import get_setting
from shared.stages import GPU_STAGE_NAMES, TEMPLATE_STAGES

ENGINES = ("animatediff", "svd")
STAGE_NAMES = GPU_STAGE_NAMES  # the stages `stages` and `extra_data` may name
WORKFLOW_NAMES = tuple(TEMPLATE_STAGES)
MAX_EXTRA_DATA_BYTES = 4096
# Options whose default is a farm setting, and options capped by one (within BOUNDS). The
# frame rate has none: an animated job follows its episode's fps.
DEFAULTED = {
    "steps": "render_default_steps",
    "multiplier": "render_default_multiplier",
    "engine": "render_default_engine",
}
CAPPED = {"frames": "render_max_frames", "width": "render_max_size", "height": "render_max_size"}


@dataclass(frozen=True)
class Bound:
    """The values one option may take: a number range (integers unless `real`), a choice, or
    a piece of text."""

    low: float | None = None
    high: float | None = None
    real: bool = False
    multiple_of: int | None = None
    choices: tuple[Any, ...] = ()
    max_length: int | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` is out of bounds, or None."""
        if self.choices:
            listed = ", ".join(str(c) for c in self.choices)
            return None if value in self.choices else f"must be one of {listed}"
        if self.max_length is not None:
            if not isinstance(value, str) or not 0 < len(value) <= self.max_length:
                return f"must be text of 1 to {self.max_length} characters"
            return None
        number = int | float if self.real else int
        if isinstance(value, bool) or not isinstance(value, number):
            return "must be a number" if self.real else "must be an integer"
        if not self.low <= value <= self.high:
            return f"must be between {self.low:g} and {self.high:g}"
        if self.multiple_of and value % self.multiple_of:
            return f"must be a multiple of {self.multiple_of}"
        return None


def _text(max_length: int = 255) -> Bound:
    return Bound(max_length=max_length)


BOUNDS: dict[str, Bound] = {
    "seed": Bound(0, 2**63 - 1),
    "steps": Bound(1, 150),
    "frames": Bound(2, 64),
    "fps": Bound(1, 60),
    "width": Bound(64, 2048, multiple_of=8),
    "height": Bound(64, 2048, multiple_of=8),
    "multiplier": Bound(choices=(2, 4)),
    "engine": Bound(choices=ENGINES),
    "checkpoint": _text(),
    # Per-stage only: sampler settings and model choices (names are checked against the
    # node specs when the stage is bound, and against each backend's models by routing).
    "cfg": Bound(0, 30, real=True),
    "denoise": Bound(0, 1, real=True),
    "min_cfg": Bound(0, 30, real=True),
    "augmentation_level": Bound(0, 10, real=True),
    "motion_bucket_id": Bound(1, 1023),
    "context_length": Bound(1, 64),
    "context_overlap": Bound(0, 32),
    "sampler_name": _text(),
    "scheduler": _text(),
    "negative_prompt": _text(2000),
    "motion_module": _text(),
    "beta_schedule": _text(),
    "rife_model": _text(),
    "method": Bound(choices=("nearest-exact", "bilinear", "area", "bicubic", "lanczos")),
}
TOP_LEVEL = (
    "seed",
    "steps",
    "frames",
    "fps",
    "width",
    "height",
    "multiplier",
    "engine",
    "checkpoint",
)
_SAMPLING = ("seed", "steps", "width", "height", "cfg", "sampler_name", "scheduler", "checkpoint")
# workflow name -> the parameters a client may override for it
STAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "keyframe": (*_SAMPLING, "negative_prompt"),
    # A scene's frames and rate come from its duration and its episode, never from here.
    "animate": (
        *_SAMPLING,
        "denoise",
        "negative_prompt",
        "motion_module",
        "beta_schedule",
        "context_length",
        "context_overlap",
    ),
    "animate_svd": (
        *_SAMPLING,
        "min_cfg",
        "motion_bucket_id",
        "augmentation_level",
    ),
    "interpolate": ("rife_model",),
    "bridge": ("rife_model",),
    "upscale": ("method",),
    "upscale_model": ("method",),
    "keyframe_ref": (*_SAMPLING, "negative_prompt"),
}
MAX_UPSCALE_FACTOR = 4
MAX_UPSCALED_HEIGHT = 4096


@dataclass(frozen=True)
class RenderOptions:
    """What a client may tune per job; every field has a default."""

    seed: int | None = None
    steps: int = 20
    # AnimateDiff's context window (frames sampled together); never a scene's length, which
    # comes from its duration.
    frames: int | None = None
    fps: int = 8  # animate frame rate; an episode's scenes animate at episode fps / multiplier
    width: int | None = None  # an episode's scenes: its size (before upscale: any)
    height: int | None = None
    multiplier: int = 2
    engine: str = "animatediff"
    checkpoint: str | None = None
    # Upscale each scene's clip: {"factor": 2} or {"height": 720}; "model" (an upscale model
    # file the nodes have) and "method" (the resampling) optional.
    upscale: dict[str, Any] | None = None
    # Keyframes of a scene showing one character with a reference sheet start from that sheet.
    use_references: bool = False
    workflows: dict[str, int] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Sent with a stage's prompt as ComfyUI's extra_data (kept in its history).
    extra_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The options the client gave (the others are defaults), so a conflict is only refused
    # when it was asked for.
    explicit: frozenset[str] = field(default=frozenset(), compare=False)


def bound_problem(name: str, value: Any) -> str | None:
    """Why an option's value is out of its bounds or over the farm's cap for it, or None."""
    problem = BOUNDS[name].problem(value)
    if problem is None and name in CAPPED and value > (cap := get_setting(CAPPED[name])):
        return f"must be at most {cap} on this farm"
    return problem


def with_defaults(raw: dict[str, Any] | None) -> dict[str, Any]:
    """A client's options with the farm's defaults filled in where it gave none (kept on the
    job, so a retake renders as the first take did)."""
    filled = dict(raw or {})
    for name, setting in DEFAULTED.items():
        if filled.get(name) is None:
            filled[name] = get_setting(setting)
    return filled


def workflow_name(stage: str, engine: str) -> str:
    """The workflow serving `stage` with this engine (SVD has its own animate workflow)."""
    return "animate_svd" if stage == "animate" and engine == "svd" else stage


def stage_override_problems(stages: Any, engine: str) -> dict[str, str]:
    """What is wrong with per-stage overrides, keyed `<stage>` or `<stage>.<parameter>`."""
    if not isinstance(stages, dict):
        return {"": "must map a stage to its parameters"}
    problems: dict[str, str] = {}
    for stage, params in stages.items():
        if stage not in STAGE_NAMES:
            problems[str(stage)] = f"unknown stage (expected {', '.join(STAGE_NAMES)})"
            continue
        if not isinstance(params, dict):
            problems[stage] = "must be an object of parameters"
            continue
        allowed = STAGE_PARAMS.get(workflow_name(stage, engine), ())
        for name, value in params.items():
            if name not in allowed:
                problems[f"{stage}.{name}"] = (
                    f"not a tunable parameter (allowed: {', '.join(allowed)})"
                )
            elif message := bound_problem(name, value):
                problems[f"{stage}.{name}"] = message
    return problems


def workflow_problems(workflows: Any) -> dict[str, str]:
    """What is wrong with chosen workflow versions, keyed `<workflow name>`."""
    if not isinstance(workflows, dict):
        return {"": "must map a workflow name to a version number"}
    return {
        str(name): "must map a workflow name to a version number"
        for name, version in workflows.items()
        if name not in WORKFLOW_NAMES
        or isinstance(version, bool)
        or not isinstance(version, int)
        or version < 1
    }


def extra_data_problems(extra: Any) -> dict[str, str]:
    """What is wrong with per-stage extra_data, keyed `<stage>`."""
    if not isinstance(extra, dict):
        return {"": "must map a stage to an object"}
    problems: dict[str, str] = {}
    for stage, value in extra.items():
        if stage not in STAGE_NAMES or not isinstance(value, dict):
            problems[str(stage)] = "must map a stage to an object"
        elif len(json.dumps(value)) > MAX_EXTRA_DATA_BYTES:
            problems[stage] = f"must be at most {MAX_EXTRA_DATA_BYTES} bytes of JSON"
    return problems


def upscale_problems(value: Any) -> dict[str, str]:
    """What is wrong with an `upscale` option, keyed `` or `<field>`."""
    if not isinstance(value, dict):
        return {"": 'must be an object: {"factor": 2} or {"height": 720}'}
    problems = {
        key: "unknown field" for key in set(value) - {"factor", "height", "model", "method"}
    }
    if ("factor" in value) == ("height" in value):
        problems[""] = "give exactly one of factor or height"
    factor = Bound(1, MAX_UPSCALE_FACTOR, real=True)
    if "factor" in value and (
        message := factor.problem(value["factor"])
        or (None if value["factor"] > 1 else "must be above 1")
    ):
        problems["factor"] = message
    height = Bound(64, MAX_UPSCALED_HEIGHT, multiple_of=8)
    if "height" in value and (message := height.problem(value["height"])):
        problems["height"] = message
    model = value.get("model")
    if "model" in value and (
        _text().problem(model) or any(c in model for c in "/\\") or model.startswith(".")
    ):
        problems["model"] = "must be an upscale model's file name"
    if "method" in value and (message := BOUNDS["method"].problem(value["method"])):
        problems["method"] = message
    return problems


def parse_options(raw: dict[str, Any] | None) -> RenderOptions:
    """Check a client's options (the farm's defaults filling what it left out).

    :raises ValidationError: naming each bad field as `options.<name>`.
    """
    raw = with_defaults(raw)
    fields: dict[str, str] = {}
    known = set(RenderOptions.__dataclass_fields__) - {"explicit"}
    for name in sorted(set(raw) - known):
        fields[f"options.{name}"] = "unknown option"
    for name in TOP_LEVEL:
        if raw.get(name) is not None and (message := bound_problem(name, raw[name])):
            fields[f"options.{name}"] = message
    engine = raw["engine"]
    if raw.get("workflows") is not None:
        fields.update(prefixed("options.workflows", workflow_problems(raw["workflows"])))
    if raw.get("stages") is not None:
        fields.update(prefixed("options.stages", stage_override_problems(raw["stages"], engine)))
    if raw.get("extra_data") is not None:
        fields.update(prefixed("options.extra_data", extra_data_problems(raw["extra_data"])))
    if not isinstance(raw.get("use_references", False), bool):
        fields["options.use_references"] = "must be true or false"
    if raw.get("upscale") is not None:
        fields.update(prefixed("options.upscale", upscale_problems(raw["upscale"])))
    if fields:
        raise ValidationError("invalid render options", fields=fields)
    given = {k: v for k, v in raw.items() if v is not None}
    return RenderOptions(**given, explicit=frozenset(given))


def prefixed(prefix: str, problems: dict[str, str]) -> dict[str, str]:
    """Problems keyed by full field names (`options.stages.keyframe.steps`)."""
    return {f"{prefix}.{key}" if key else prefix: message for key, message in problems.items()}
