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
    is_active: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=True, server_default=sa.true()
    )
    created_at: Mapped[created_at]
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Every access token and session cookie carries the version it was issued under; bumping
    # it (log out everywhere, a new password) ends them all at their next request.
    session_version: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0, server_default="0"
    )


class ApiToken(db.Model):
    """A long-lived token for scripts, created and revoked by its owner; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int_pk]
    # CASCADE: a token means nothing without its account.
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(128), nullable=False, unique=True)
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


# Emails compare case-insensitively: one account per address.
sa.Index("uq_users_email_lower", sa.func.lower(User.email), unique=True)
