"""Audio library entries and the assistant's suggestions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.models.columns import created_at, int_pk
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


class Suggestion(db.Model):
    """A prompt or scene suggestion from the assistant, kept for the user to accept."""

    __tablename__ = "suggestions"

    id: Mapped[int_pk]
    # CASCADE: suggestions mean nothing without their project; SET NULL keeps them per scene.
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    scene_id: Mapped[int | None] = mapped_column(sa.ForeignKey("scenes.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    accepted: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    created_at: Mapped[created_at]
