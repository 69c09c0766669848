"""Audio library entries and the assistant's suggestions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.models.columns import Timestamp, created_at, int_pk
from shared.models.status import LibraryKind, enum_column


class LibraryEntry(db.Model):
    """A music cue or sound effect, chosen by its tags (mood, kind of sound)."""

    __tablename__ = "library_entries"

    id: Mapped[int_pk]
    kind: Mapped[str] = mapped_column(enum_column(LibraryKind, "library_kind"), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    uri: Mapped[str] = mapped_column(sa.String(1000), nullable=False)
    tags: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list)
    duration_s: Mapped[float] = mapped_column(sa.Float, nullable=False)
    loudness_lufs: Mapped[float | None] = mapped_column(sa.Float)
    # Music only: the stretch that repeats after the first pass (None: the whole file).
    loop_start_s: Mapped[float | None] = mapped_column(sa.Float)
    loop_end_s: Mapped[float | None] = mapped_column(sa.Float)
    sample_rate: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[created_at]

    __table_args__ = (
        sa.UniqueConstraint("kind", "name", name="uq_library_entries_kind_name"),
        sa.CheckConstraint("duration_s > 0", name="duration_positive"),
        sa.CheckConstraint(
            "(loop_start_s IS NULL) = (loop_end_s IS NULL) AND "
            "(loop_start_s IS NULL OR (0 <= loop_start_s AND loop_start_s < loop_end_s "
            "AND loop_end_s <= duration_s))",
            name="loop_inside",
        ),
        sa.Index("ix_library_entries_tags", "tags", postgresql_using="gin"),
    )


class EchoFeature(StrEnum):
    """What Echo Brain was asked for."""

    ENHANCE_PROMPT = "enhance_prompt"
    SCENES = "scenes"
    DIALOGUE = "dialogue"
    CONTINUATION = "continuation"
    BRAINSTORM = "brainstorm"
    ANALYSIS = "analysis"


class Suggestion(db.Model):
    """One answer of Echo Brain: what was asked, by whom, of which model, and what came back."""

    __tablename__ = "suggestions"

    id: Mapped[int_pk]
    # CASCADE: a suggestion is its asker's scratch, and means nothing without what it is about.
    owner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    episode_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("episodes.id", ondelete="CASCADE"), index=True
    )
    scene_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("scenes.id", ondelete="CASCADE"), index=True
    )
    feature: Mapped[str] = mapped_column(enum_column(EchoFeature, "echo_feature"), nullable=False)
    input: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    model: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    output: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    latency_ms: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    accepted: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    accepted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[created_at]

    __table_args__ = (sa.CheckConstraint("latency_ms >= 0", name="latency_non_negative"),)
