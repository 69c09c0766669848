"""The closed sets of states and kinds, with the only allowed status transitions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from shared.errors import ConflictError


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


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.SKIPPED})

# The only moves of a stage run. A stage that ended stays ended: retrying it adds a new attempt
# (row); only a skipped stage, which never ran, is queued again in place.
STAGE_MOVES: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED, Status.SKIPPED}),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.QUEUED}),
    Status.RETRYING: frozenset({Status.RUNNING, Status.QUEUED, Status.FAILED, Status.CANCELLED}),
    Status.SKIPPED: frozenset({Status.QUEUED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}
# The only moves of a job. Retry (or a retake) is the one way back: an ended job is queued again.
JOB_MOVES: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}),
    Status.SUCCEEDED: frozenset({Status.QUEUED}),
    Status.FAILED: frozenset({Status.QUEUED}),
    Status.CANCELLED: frozenset({Status.QUEUED}),
}

JOB_STATUSES = tuple(s.value for s in JOB_MOVES)


class IllegalTransition(ConflictError):
    """A row was asked to move to a status its lifecycle does not allow."""

    code = "illegal_transition"


def can_move(moves: dict[Status, frozenset[Status]], old: str, new: Status) -> bool:
    """Whether a row in `old` may become `new` (staying put is always allowed)."""
    return Status(old) is new or new in moves.get(Status(old), frozenset())


def move(row: Any, new: Status) -> None:
    """Set a job's or stage run's status, refusing a move its lifecycle does not allow.

    :raises IllegalTransition: naming the row and both states.
    """
    if not can_move(row.MOVES, row.status, new):
        raise IllegalTransition(
            f"{type(row).__name__} {row.id} cannot go from {row.status} to {new.value}",
            fields={"status": row.status},
        )
    row.status = new.value


def checked(moves: dict[Status, frozenset[Status]], old: Status, new: Status) -> str:
    """`new`'s value for a bulk UPDATE of rows in `old` (WHERE status = old), once the move is
    known to be allowed.

    :raises IllegalTransition: when it is not.
    """
    if not can_move(moves, old, new):
        raise IllegalTransition(f"cannot go from {old.value} to {new.value}")
    return new.value


def not_terminal_sql(column: str = "status") -> str:
    """A SQL condition that holds while a row has not ended (the sink never touches the rest)."""
    listed = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL))
    return f"{column} NOT IN ({listed})"


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
    SUBTITLES = "subtitles"


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
