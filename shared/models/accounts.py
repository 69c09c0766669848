"""Accounts: users and their roles."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import db
from shared.models.columns import created_at, int_pk
from shared.models.status import Role, enum_column


class User(db.Model):
    """A person or script that uses Tower; the role decides what it may do."""

    __tablename__ = "users"

    id: Mapped[int_pk]
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    role: Mapped[str] = mapped_column(
        enum_column(Role, "user_role"), nullable=False, default=Role.USER.value
    )
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True,
                                            server_default=sa.true())
    created_at: Mapped[created_at]
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


# Emails compare case-insensitively: one account per address.
sa.Index("uq_users_email_lower", sa.func.lower(User.email), unique=True)
