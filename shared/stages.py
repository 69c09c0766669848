"""The pipeline's stages, declared once.

Each stage kind says where it runs, how long it may take, which workflow templates it binds,
what it takes from which earlier stage, what it writes, how its progress is weighed and how
many of it a job has. Planning, the canvas, routing, task registration, option parsing, the
schemas, the dashboard, the status API and the database's stage names all read this table;
adding a stage is adding an entry here (and its template).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Queue(StrEnum):
    """Where a stage's task runs: GPU workers (one ComfyUI each) or CPU workers."""

    GPU = "gpu"
    CPU = "cpu"


class Per(StrEnum):
    """How many rows of a stage a job has."""

    SCENE = "scene"  # one per scene
    EPISODE = "episode"  # one for the whole job


class Weight(StrEnum):
    """How a stage counts towards its job's progress."""

    SAMPLING = "sampling"  # steps x frames of its row's inputs (GPU work)
    SHARE = "share"  # a fixed share of the GPU work (CPU work)


# Where a stage takes each scene's finished clip from: the last scene stage before it.
SCENE_CLIP = "scene-clip"


@dataclass(frozen=True)
class Upstream:
    """What a stage takes: the outputs of one earlier stage (or SCENE_CLIP), of these kinds in
    order of preference."""

    stage: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class StageKind:
    """One kind of stage."""

    name: str
    queue: Queue
    per: Per
    soft_limit_s: int
    hard_limit_s: int
    weight: Weight
    description: str
    templates: tuple[str, ...] = ()  # the workflow templates it may bind; the first by default
    takes: Upstream | None = None
    outputs: tuple[str, ...] = ()  # asset kinds it writes
    clip: str | None = None  # the output kind that is the scene's clip so far, if it makes one
    option: str | None = None  # the job option that adds it; None: every job of its kind has it

    @property
    def is_gpu(self) -> bool:
        """True for stages that submit a ComfyUI prompt."""
        return self.queue is Queue.GPU

    @property
    def task_name(self) -> str:
        """The Celery task that runs it."""
        return f"render.{self.name}"


STAGES: tuple[StageKind, ...] = (
    StageKind(
        "keyframe",
        Queue.GPU,
        Per.SCENE,
        600,
        660,
        Weight.SAMPLING,
        "text-to-image keyframe of a scene (character LoRAs), or image-to-image from a "
        "character's reference sheet when the job asks",
        templates=("keyframe", "keyframe_ref"),
        outputs=("image",),
    ),
    StageKind(
        "animate",
        Queue.GPU,
        Per.SCENE,
        1800,
        1900,
        Weight.SAMPLING,
        "the keyframe animated into frames and a clip (AnimateDiff, or SVD)",
        templates=("animate", "animate_svd"),
        takes=Upstream("keyframe", ("image",)),
        outputs=("video", "frames"),
        clip="video",
    ),
    StageKind(
        "interpolate",
        Queue.GPU,
        Per.SCENE,
        900,
        960,
        Weight.SAMPLING,
        "RIFE frame interpolation of the clip (x2 or x4)",
        templates=("interpolate",),
        takes=Upstream("animate", ("frames", "video")),
        outputs=("video", "frames"),
        clip="video",
    ),
    StageKind(
        "upscale",
        Queue.GPU,
        Per.SCENE,
        900,
        960,
        Weight.SAMPLING,
        "the interpolated frames upscaled (an upscale model, or resampling) into the final clip",
        templates=("upscale", "upscale_model"),
        takes=Upstream("interpolate", ("frames", "video")),
        outputs=("video",),
        clip="video",
        option="upscale",
    ),
    StageKind(
        "compile",
        Queue.CPU,
        Per.EPISODE,
        1800,
        1900,
        Weight.SHARE,
        "the scene clips joined with their transitions into the episode video, with QC",
        takes=Upstream(SCENE_CLIP, ("video",)),
        outputs=("video",),
    ),
    StageKind(
        "mix",
        Queue.CPU,
        Per.EPISODE,
        900,
        960,
        Weight.SHARE,
        "music, effects, spoken dialogue and loudness mixed and muxed into the final episode, "
        "with the dialogue's subtitles",
        takes=Upstream("compile", ("video",)),
        outputs=("episode", "subtitles"),
    ),
)

BY_NAME: dict[str, StageKind] = {kind.name: kind for kind in STAGES}
STAGE_NAMES: tuple[str, ...] = tuple(BY_NAME)
GPU_STAGE_NAMES: tuple[str, ...] = tuple(k.name for k in STAGES if k.is_gpu)
SCENE_STAGE_NAMES: tuple[str, ...] = tuple(k.name for k in STAGES if k.per is Per.SCENE)
EPISODE_STAGE_NAMES: tuple[str, ...] = tuple(k.name for k in STAGES if k.per is Per.EPISODE)
# Every workflow template a stage binds, and the stage it serves.
TEMPLATE_STAGES: dict[str, str] = {t: k.name for k in STAGES for t in k.templates}
LONGEST_HARD_LIMIT_S = max(k.hard_limit_s for k in STAGES)


def stage_kind(name: str) -> StageKind:
    """The kind of a stage by name.

    :raises KeyError: for a name no stage has.
    """
    return BY_NAME[name]


def position(name: str) -> int:
    """Where a stage sits in the pipeline (for ordering rows)."""
    return STAGE_NAMES.index(name) if name in BY_NAME else len(STAGE_NAMES)


def downstream_names(name: str) -> tuple[str, ...]:
    """The stages that come after `name` and depend on it, directly or not: the later scene
    stages of its scene (for a scene stage) and every episode stage after it."""
    start = position(name)
    return tuple(k.name for k in STAGES[start + 1 :])
