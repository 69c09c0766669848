"""The closed sets of states and kinds, with the only allowed status transitions."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa


class Status(StrEnum):
    """Lifecycle of a job or a stage run; moves forward only, except retry."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # A stage that will never run because a stage it depends on failed for good (stages only).
    SKIPPED = "skipped"

    @property
    def is_terminal(self) -> bool:
        """True for the states a row ends in."""
        return self in TERMINAL

    def can_become(self, new: Status) -> bool:
        """Whether moving from this state to `new` is allowed."""
        return new in _TRANSITIONS[self]


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.SKIPPED})

_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED, Status.SKIPPED}),
    Status.RUNNING: frozenset(
        {Status.RETRYING, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.QUEUED}
    ),
    Status.RETRYING: frozenset({Status.RUNNING, Status.QUEUED, Status.FAILED, Status.CANCELLED}),
    # Retry is the one way back: a failed or cancelled row is queued again.
    Status.FAILED: frozenset({Status.QUEUED}),
    Status.CANCELLED: frozenset({Status.QUEUED}),
    Status.SKIPPED: frozenset({Status.QUEUED}),
    Status.SUCCEEDED: frozenset(),
}

# Retrying and skipped describe stages; a job is never in either.
JOB_STATUSES = tuple(s.value for s in Status if s not in (Status.RETRYING, Status.SKIPPED))


class Role(StrEnum):
    """What an account may do."""

    ADMIN = "admin"
    OPERATOR = "operator"
    USER = "user"
    GUEST = "guest"


class JobKind(StrEnum):
    """What a job renders."""

    EPISODE = "episode"
    SCENE = "scene"
    IMAGE = "image"
    CHARACTER = "character"


class Stage(StrEnum):
    """Pipeline stages; the first three run on GPU nodes."""

    KEYFRAME = "keyframe"
    ANIMATE = "animate"
    INTERPOLATE = "interpolate"
    COMPILE = "compile"
    MIX = "mix"

    @property
    def is_gpu(self) -> bool:
        """True for stages that submit a ComfyUI prompt."""
        return self in (Stage.KEYFRAME, Stage.ANIMATE, Stage.INTERPOLATE)


class WorkflowStage(StrEnum):
    """Which stage a stored workflow serves (two engines can serve animate)."""

    KEYFRAME = "keyframe"
    ANIMATE = "animate"
    ANIMATE_SVD = "animate_svd"
    INTERPOLATE = "interpolate"


class NodeStatus(StrEnum):
    """A GPU worker node's availability."""

    ONLINE = "online"
    DRAINING = "draining"
    OFFLINE = "offline"


class Transition(StrEnum):
    """How one scene hands over to the next."""

    CUT = "cut"
    CROSSFADE = "crossfade"
    FADE_BLACK = "fade_black"


class AssetKind(StrEnum):
    """What an artifact is."""

    IMAGE = "image"
    VIDEO = "video"
    FRAMES = "frames"
    AUDIO = "audio"
    EPISODE = "episode"
    REPORT = "report"


class LibraryKind(StrEnum):
    """Entries of the audio library."""

    MUSIC = "music"
    SFX = "sfx"


def enum_column(enum: type[StrEnum], name: str, values: tuple[str, ...] | None = None) -> sa.Enum:
    """A VARCHAR limited by a CHECK constraint to the enum's values (no Postgres ENUM type)."""
    return sa.Enum(
        *(values or tuple(e.value for e in enum)),
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
    )
