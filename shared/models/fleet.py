"""The GPU fleet: worker nodes and what each can run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.models.columns import Timestamp, created_at, int_pk
from shared.models.status import NodeStatus, enum_column


class WorkerNode(db.Model):
    """A GPU worker and the ComfyUI backend it serves."""

    __tablename__ = "worker_nodes"

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False, unique=True)
    hostname: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    queues: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list)
    comfyui_url: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    gpu_name: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    vram_total: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    vram_free: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    node_classes: Mapped[list[str]] = mapped_column(JSONB, nullable=False, default=list)
    models: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    # Models the backend lists but failed to load (folder -> names); kept across
    # re-registration until an operator clears them.
    lacking_models: Mapped[dict[str, list[str]]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default="{}"
    )
    status: Mapped[str] = mapped_column(
        enum_column(NodeStatus, "node_status"), nullable=False, default=NodeStatus.ONLINE.value
    )
    last_checkpoint: Mapped[str | None] = mapped_column(sa.String(255))
    last_heartbeat: Mapped[datetime | None] = mapped_column(Timestamp)
    registered_at: Mapped[created_at]

    __table_args__ = (
        sa.CheckConstraint("vram_total >= 0 AND vram_free >= 0", name="vram_non_negative"),
    )
