"""Render work: stored workflows, jobs, their stage runs, and the assets they produce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import db
from shared.models.columns import Timestamp, created_at, int_pk, updated_at
from shared.models.status import (
    JOB_MOVES,
    JOB_STATUSES,
    STAGE_MOVES,
    AssetKind,
    JobKind,
    Status,
    enum_column,
)

# The stage and workflow-template names the registry (shared/stages.py) declares; the database
# follows it (migrations/env.py fills these tables at every upgrade), so no CHECK lists them.
stage_kinds = sa.Table(
    "stage_kinds",
    db.metadata,
    sa.Column("name", sa.String(32), primary_key=True),
)
workflow_kinds = sa.Table(
    "workflow_kinds",
    db.metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("stage", sa.String(32), sa.ForeignKey("stage_kinds.name"), nullable=False),
)


class Workflow(db.Model):
    """A versioned API-format ComfyUI graph with named bindings; the source of truth."""

    __tablename__ = "workflows"

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    # The template kind it serves (a stage can bind several: animate and animate_svd).
    stage: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("workflow_kinds.name"), nullable=False
    )
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="", server_default="")
    graph: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    bindings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    outputs: Mapped[list[dict[str, str]]] = mapped_column(JSONB, nullable=False, default=list)
    node_classes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list)
    models: Mapped[dict[str, list[str]]] = mapped_column(JSONB, nullable=False, default=dict)
    is_active: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    # SET NULL: a built-in or orphaned workflow stays usable by the jobs that ran it.
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]

    __table_args__ = (
        sa.UniqueConstraint("name", "version", name="uq_workflows_name_version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        # At most one active version per (name) so "the keyframe workflow" is unambiguous.
        sa.Index(
            "uq_workflows_active_name", "name", unique=True, postgresql_where=sa.text("is_active")
        ),
    )


class Job(db.Model):
    """What a client asked to render, with its overall state."""

    __tablename__ = "jobs"
    MOVES = JOB_MOVES

    id: Mapped[int_pk]
    kind: Mapped[str] = mapped_column(enum_column(JobKind, "job_kind"), nullable=False)
    # RESTRICT: job history outlives nothing silently; accounts are deactivated instead.
    owner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    # CASCADE: deleting a production deletes its render history with it.
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    episode_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("episodes.id", ondelete="SET NULL"), index=True
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    priority: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False, default=5)
    status: Mapped[str] = mapped_column(
        enum_column(Status, "job_status", JOB_STATUSES), nullable=False, default=Status.QUEUED.value
    )
    progress: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    current_stage: Mapped[str | None] = mapped_column(sa.String(32))
    eta_s: Mapped[float | None] = mapped_column(sa.Float)
    error: Mapped[str | None] = mapped_column(sa.Text)
    cancel_requested: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    celery_root_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Bumped by every dispatch; tasks of an older canvas drop themselves.
    canvas_generation: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    stage_runs: Mapped[list[StageRun]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="StageRun.id",
    )

    __table_args__ = (
        sa.CheckConstraint("priority BETWEEN 0 AND 9", name="priority_range"),
        sa.CheckConstraint("progress BETWEEN 0 AND 1", name="progress_range"),
        sa.CheckConstraint("eta_s IS NULL OR eta_s >= 0", name="eta_non_negative"),
        sa.CheckConstraint("canvas_generation >= 0", name="generation_non_negative"),
        sa.Index("ix_jobs_status_created", "status", "created_at"),
        sa.Index("ix_jobs_owner_created", "owner_id", "created_at"),
        sa.Index("ix_jobs_created", "created_at"),
    )


class JobRetry(db.Model):
    """One retry of a job, when and by whom (guests' retries count against their hourly quota)."""

    __tablename__ = "job_retries"

    id: Mapped[int_pk]
    job_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Who asked for it (staff may retry anyone's job): the account whose quota it counts in.
    owner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[created_at]

    __table_args__ = (sa.Index("ix_job_retries_owner_created", "owner_id", "created_at"),)


class StageRun(db.Model):
    """One attempt of one stage for one scene (or for the whole episode)."""

    __tablename__ = "stage_runs"
    MOVES = STAGE_MOVES

    id: Mapped[int_pk]
    job_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
    )
    # SET NULL: deleting a scene later keeps the record of what was rendered.
    scene_id: Mapped[int | None] = mapped_column(sa.ForeignKey("scenes.id", ondelete="SET NULL"))
    stage: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("stage_kinds.name"), nullable=False
    )
    attempt: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    # Which consecutive piece of its scene's stage it renders (engines without context windows
    # render a long scene as segments, each from the previous one's last frame); 0 otherwise.
    segment: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")
    status: Mapped[str] = mapped_column(
        enum_column(Status, "stage_status"), nullable=False, default=Status.QUEUED.value
    )
    workflow_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("workflows.id", ondelete="SET NULL")
    )
    backend: Mapped[str | None] = mapped_column(sa.String(200))
    prompt_id: Mapped[str | None] = mapped_column(sa.String(36), unique=True)
    celery_task_id: Mapped[str | None] = mapped_column(sa.String(64))
    lease_owner: Mapped[str | None] = mapped_column(sa.String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    deliveries: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    step: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    step_max: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    progress: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    node: Mapped[str | None] = mapped_column(sa.String(64))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    error_detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Since when GPU workers have found no capable backend online for this stage (a deadline).
    waiting_since: Mapped[datetime | None] = mapped_column(Timestamp)
    # When this ended attempt left its prompt on `backend`, which could not be reached to take
    # it off; the node's worker takes it off once its ComfyUI answers again (fleet.NodeKeeper).
    prompt_left_at: Mapped[datetime | None] = mapped_column(Timestamp)
    queued_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)

    job: Mapped[Job] = relationship(back_populates="stage_runs")
    assets: Mapped[list[Asset]] = relationship(back_populates="stage_run", order_by="Asset.id")

    __table_args__ = (
        sa.CheckConstraint("attempt >= 1", name="attempt_positive"),
        sa.CheckConstraint("segment >= 0", name="segment_non_negative"),
        sa.CheckConstraint("deliveries >= 0", name="deliveries_non_negative"),
        sa.CheckConstraint("step >= 0 AND step_max >= 0", name="step_non_negative"),
        sa.CheckConstraint("progress BETWEEN 0 AND 1", name="progress_range"),
        # Per-scene stages: one row per (job, stage, scene, segment, attempt) ...
        sa.Index(
            "uq_stage_runs_scene_attempt",
            "job_id",
            "stage",
            "scene_id",
            "segment",
            "attempt",
            unique=True,
            postgresql_where=sa.text("scene_id IS NOT NULL"),
        ),
        # ... and job-wide stages (compile, mix; a character's sheet) one per (job, stage,
        # attempt).
        sa.Index(
            "uq_stage_runs_episode_attempt",
            "job_id",
            "stage",
            "attempt",
            unique=True,
            postgresql_where=sa.text("scene_id IS NULL"),
        ),
        sa.Index("ix_stage_runs_status_lease", "status", "lease_expires_at"),
        # A job's runs (status reads, finishing a job, a placement's failures on this job):
        # the unique indexes above are partial, so `job_id = ?` alone could not use them.
        sa.Index("ix_stage_runs_job_status", "job_id", "status"),
        # A scene's runs (a retake's episode job; a removed scene's SET NULL).
        sa.Index("ix_stage_runs_scene", "scene_id"),
        # The prompts a node's worker has yet to take off its backend.
        sa.Index(
            "ix_stage_runs_prompt_left",
            "backend",
            postgresql_where=sa.text("prompt_left_at IS NOT NULL"),
        ),
    )


# The failed-stages page: the newest failures first, read a page at a time.
sa.Index(
    "ix_stage_runs_failed_recent",
    StageRun.finished_at.desc().nulls_last(),
    StageRun.id.desc(),
    postgresql_where=StageRun.status == Status.FAILED.value,
)


class Asset(db.Model):
    """An artifact under ARTIFACT_ROOT with the facts clients and QC need."""

    __tablename__ = "assets"

    id: Mapped[int_pk]
    uri: Mapped[str] = mapped_column(sa.String(1000), nullable=False)
    kind: Mapped[str] = mapped_column(enum_column(AssetKind, "asset_kind"), nullable=False)
    mime_type: Mapped[str] = mapped_column(
        sa.String(100), nullable=False, default="application/octet-stream"
    )
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    width: Mapped[int | None] = mapped_column(sa.Integer)
    height: Mapped[int | None] = mapped_column(sa.Integer)
    frames: Mapped[int | None] = mapped_column(sa.Integer)
    fps: Mapped[float | None] = mapped_column(sa.Float)
    duration_s: Mapped[float | None] = mapped_column(sa.Float)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    # CASCADE: an output belongs to its job; SET NULL keeps an asset whose producer row went.
    job_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    stage_run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("stage_runs.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[created_at]
    # When a later attempt of the same stage succeeded: the hourly clean-up removes the output
    # `superseded_output_days` after that.
    superseded_at: Mapped[datetime | None] = mapped_column(Timestamp)

    stage_run: Mapped[StageRun | None] = relationship(back_populates="assets")

    __table_args__ = (
        sa.CheckConstraint("size_bytes >= 0", name="size_non_negative"),
        sa.CheckConstraint("width IS NULL OR width > 0", name="width_positive"),
        sa.CheckConstraint("height IS NULL OR height > 0", name="height_positive"),
        sa.CheckConstraint("frames IS NULL OR frames >= 0", name="frames_non_negative"),
        sa.CheckConstraint("fps IS NULL OR fps > 0", name="fps_positive"),
        sa.CheckConstraint("duration_s IS NULL OR duration_s >= 0", name="duration_non_negative"),
        sa.UniqueConstraint("uri", name="uq_assets_uri"),
        sa.Index(
            "ix_assets_superseded",
            "superseded_at",
            postgresql_where=sa.text("superseded_at IS NOT NULL"),
        ),
    )
