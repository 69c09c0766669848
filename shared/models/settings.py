"""Farm settings an operator changed (the rest keep their defaults), and every change made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.models.columns import Timestamp, int_pk, utcnow


class FarmSetting(db.Model):
    """The value of one setting changed from its default (names: shared.settings_catalog)."""

    __tablename__ = "farm_settings"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, nullable=False, default=utcnow, onupdate=utcnow, server_default=sa.func.now()
    )
    # SET NULL: the audit keeps the email; the account may go.
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class SettingChange(db.Model):
    """One change of a setting: who, when, the value before and after (secrets redacted)."""

    __tablename__ = "setting_changes"

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False, index=True)
    # The values in effect before and after (a default when none was set); a secret's as
    # shared.settings_store.REDACTED.
    old_value: Mapped[Any] = mapped_column(JSONB, nullable=False)
    new_value: Mapped[Any] = mapped_column(JSONB, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        Timestamp, nullable=False, default=utcnow, server_default=sa.func.now(), index=True
    )
