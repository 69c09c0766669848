"""The production plan: projects, characters, episodes and scenes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import db
from shared.models.columns import created_at, int_pk, updated_at
from shared.models.status import Transition, enum_column

scene_characters = sa.Table(
    "scene_characters",
    db.metadata,
    sa.Column("scene_id", sa.ForeignKey("scenes.id", ondelete="CASCADE"), primary_key=True),
    # Indexed on its own too: the key leads with scene_id, and deleting a character looks up
    # its rows here.
    sa.Column(
        "character_id",
        sa.ForeignKey("characters.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Project(db.Model):
    """A production owned by one user; everything below it goes with it."""

    __tablename__ = "projects"

    id: Mapped[int_pk]
    # RESTRICT: an account with productions is deactivated, never deleted with its work.
    owner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    style: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    is_public: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    # The `key:` of a production file: submitting the file again updates this project.
    production_key: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    characters: Mapped[list[Character]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )
    episodes: Mapped[list[Episode]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Episode.number",
    )

    __table_args__ = (
        sa.UniqueConstraint("owner_id", "production_key", name="uq_projects_owner_production_key"),
    )


class Character(db.Model):
    """A recurring character: its LoRA and the trigger words that summon it."""

    __tablename__ = "characters"

    id: Mapped[int_pk]
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    lora_name: Mapped[str | None] = mapped_column(sa.String(255))
    lora_strength: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.8)
    trigger_words: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    # The text-to-speech voice of its dialogue lines; empty: one derived from its name.
    voice: Mapped[str] = mapped_column(
        sa.String(100), nullable=False, default="", server_default=""
    )
    # SET NULL: losing a reference sheet must not delete the character.
    reference_asset_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("assets.id", ondelete="SET NULL", use_alter=True), index=True
    )
    created_at: Mapped[created_at]

    project: Mapped[Project] = relationship(back_populates="characters")

    __table_args__ = (
        sa.UniqueConstraint("project_id", "name", name="uq_characters_project_name"),
        sa.CheckConstraint("lora_strength BETWEEN -10 AND 10", name="lora_strength_range"),
    )


class Episode(db.Model):
    """One numbered episode of a project."""

    __tablename__ = "episodes"

    id: Mapped[int_pk]
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    fps: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=16)
    width: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=512)
    height: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=288)
    created_at: Mapped[created_at]

    project: Mapped[Project] = relationship(back_populates="episodes")
    scenes: Mapped[list[Scene]] = relationship(
        back_populates="episode",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Scene.order",
    )

    __table_args__ = (
        sa.UniqueConstraint("project_id", "number", name="uq_episodes_project_number"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("fps BETWEEN 1 AND 120", name="fps_range"),
        sa.CheckConstraint("width >= 16 AND height >= 16", name="size_positive"),
    )


class Scene(db.Model):
    """One shot of an episode: what to draw, for how long, and how it hands over."""

    __tablename__ = "scenes"

    id: Mapped[int_pk]
    episode_id: Mapped[int] = mapped_column(
        sa.ForeignKey("episodes.id", ondelete="CASCADE"), nullable=False
    )
    order: Mapped[int] = mapped_column("scene_order", sa.Integer, nullable=False)
    prompt: Mapped[str] = mapped_column(sa.Text, nullable=False)
    negative_prompt: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    duration_s: Mapped[float] = mapped_column(sa.Float, nullable=False, default=2.0)
    mood: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="calm")
    motion: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    transition: Mapped[str] = mapped_column(
        enum_column(Transition, "scene_transition"), nullable=False, default=Transition.CUT.value
    )
    transition_s: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    sfx_cues: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, default=list)
    # Spoken lines: [{"character_id", "text", "at_s"}], scene-relative, in time order.
    dialogue: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=sa.text("'[]'::jsonb")
    )
    created_at: Mapped[created_at]

    episode: Mapped[Episode] = relationship(back_populates="scenes")
    characters: Mapped[list[Character]] = relationship(secondary=scene_characters)

    __table_args__ = (
        # Deferred so a reorder can swap two scenes inside one transaction.
        sa.UniqueConstraint(
            "episode_id",
            "scene_order",
            name="uq_scenes_episode_order",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.CheckConstraint("scene_order >= 0", name="order_non_negative"),
        sa.CheckConstraint("duration_s > 0", name="duration_positive"),
        sa.CheckConstraint("transition_s >= 0", name="transition_non_negative"),
        sa.CheckConstraint("seed IS NULL OR seed >= 0", name="seed_non_negative"),
    )
