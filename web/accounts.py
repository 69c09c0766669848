"""Account services: login and logout, users (admins) and API tokens (owners)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, request

from shared.db import db
from shared.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from shared.models import ApiToken, Role, User
from web import throttle
from web.credentials import (
    hash_api_token,
    hash_password,
    issue_access_token,
    new_api_token,
    verify_password,
)
from web.identity import API_TOKEN_KEY, api_token_max_lifetime, end_session, start_session
from web.paging import fetch_page
from web.production import get_row

log = logging.getLogger(__name__)
# Advisory lock taken by every change that takes an admin away (see keep_an_admin).
ADMINS_LOCK = 0x70E5F2


def normalise_email(email: str) -> str:
    """The form emails are compared in: no surrounding whitespace, lower case."""
    return email.strip().lower()


def find_user(email: str) -> User | None:
    """The account with this email (case-insensitive)."""
    return db.session.execute(
        sa.select(User).where(sa.func.lower(User.email) == normalise_email(email))
    ).scalar_one_or_none()


def log_in(email: str, password: str, *, remote_addr: str, use_session: bool) -> dict[str, Any]:
    """Check a password and issue an access token (and the session cookie when asked).

    :raises RateLimitedError: while this client must wait after failing too often.
    :raises AuthenticationError: for a wrong email or password or a deactivated account.
    """
    user = find_user(email)
    # Failures count against the account itself whatever spelling of its email was typed.
    account = f"user:{user.id}" if user else f"email:{normalise_email(email)}"
    throttle.admit_login(account, remote_addr)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        log.info("login failed email=%s addr=%s", email, remote_addr)
        throttle.record_login_failure(account, remote_addr)
        raise AuthenticationError("wrong email or password")
    if not user.is_active:
        raise AuthenticationError("the account is deactivated")
    throttle.forget_login_failures(account, remote_addr)
    user.last_login_at = datetime.now(UTC)
    db.session.commit()
    ttl = int(current_app.config["TOWER_JWT_TTL_S"])
    token, expires_in = issue_access_token(
        current_app.config["SECRET_KEY"],
        user.id,
        user.role,
        ttl,
        session_version=user.session_version,
    )
    csrf = start_session(user) if use_session else None
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "role": user.role,
        "csrf_token": csrf,
    }


def log_out() -> None:
    """Revoke the access token, API token or session cookie of this request."""
    end_session()
    token_id = request.environ.get(API_TOKEN_KEY)
    if token_id is not None:
        row = db.session.get(ApiToken, token_id)
        row.revoked_at = row.revoked_at or datetime.now(UTC)
        db.session.commit()
        log.info("API token revoked at logout id=%s", token_id)


def log_out_everywhere(user: User) -> None:
    """End every access token and session cookie of `user` (API tokens stay)."""
    end_session()
    end_all_sessions(user)
    db.session.commit()
    log.info("user logged out everywhere id=%s", user.id)


def end_all_sessions(user: User) -> None:
    """Bump the account's session version: tokens and cookies issued before stop working."""
    user.session_version = User.session_version + 1


def create_user(email: str, password: str, role: str) -> User:
    """A new active account.

    :raises ConflictError: when the email is already registered.
    """
    if find_user(email) is not None:
        raise ConflictError(
            f"an account for {email} already exists", fields={"email": "already registered"}
        )
    user = User(email=email.strip(), password_hash=hash_password(password), role=role)
    db.session.add(user)
    db.session.commit()
    log.info("user created id=%s role=%s", user.id, role)
    return user


def list_users(*, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of every account."""
    return fetch_page(
        sa.select(User), [User.id], descending=False, limit=limit, cursor=cursor, kinds=(int,)
    )


def update_user(user_id: int, data: dict[str, Any]) -> User:
    """Change an account's role, activation or password.

    :raises NotFoundError: when there is no such account.
    :raises ConflictError: naming `role` or `is_active` when it would leave no active admin.
    """
    user = get_row(User, user_id, "user")
    if takes_admin_away(data):
        keep_an_admin(user, data)
    if "password" in data:
        # A new password ends whatever the old one opened: sessions, tokens, API tokens.
        user.password_hash = hash_password(data["password"])
        end_all_sessions(user)
        db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=sa.func.now())
        )
    for name in ("role", "is_active"):
        if name in data:
            setattr(user, name, data[name])
    db.session.commit()
    return user


def takes_admin_away(data: dict[str, Any]) -> bool:
    """Whether a change would make an active admin something else (another role, inactive)."""
    return data.get("role", Role.ADMIN.value) != Role.ADMIN.value or data.get("is_active") is False


def keep_an_admin(user: User, data: dict[str, Any]) -> None:
    """Refuse to demote or deactivate the last active admin (nobody could manage accounts).

    Changes that take an admin away take turns under one lock until they commit, so two admins
    demoting each other at once cannot both succeed.

    :raises ConflictError: naming the field of each change that would leave no active admin.
    """
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(ADMINS_LOCK)))
    db.session.refresh(user)  # as the change before ours left it
    if user.role != Role.ADMIN.value or not user.is_active:
        return
    others = db.session.scalar(
        sa.select(sa.func.count(User.id)).where(
            User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user.id
        )
    )
    if others:
        return
    stays_admin = {"role": Role.ADMIN.value, "is_active": True}
    refused = {
        name: "the last active admin must stay one; make another account admin first"
        for name, kept in stays_admin.items()
        if name in data and data[name] != kept
    }
    raise ConflictError(f"user {user.id} is the last active admin", fields=refused)


def create_api_token(user: User, name: str, expires_in_days: int | None) -> dict[str, Any]:
    """A new API token for `user`, living `expires_in_days` or its role's longest lifetime;
    the secret is returned here and never again.

    :raises ValidationError: when `expires_in_days` exceeds the role's longest lifetime.
    """
    longest = api_token_max_lifetime(user.role)
    if expires_in_days is not None and timedelta(days=expires_in_days) > longest:
        raise ValidationError(
            f"API tokens of a {user.role} live at most {longest.days} days",
            fields={"expires_in_days": f"must be at most {longest.days}"},
        )
    secret = new_api_token()
    expires_at = datetime.now(UTC) + (
        timedelta(days=expires_in_days) if expires_in_days else longest
    )
    row = ApiToken(
        user_id=user.id, name=name, token_hash=hash_api_token(secret), expires_at=expires_at
    )
    db.session.add(row)
    db.session.commit()
    return {
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": None,
        "revoked_at": None,
        "token": secret,
    }


def list_api_tokens(user: User) -> list[ApiToken]:
    """The caller's API tokens, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def revoke_api_token(user: User, token_id: int) -> ApiToken:
    """Revoke one of the caller's API tokens (idempotent).

    :raises NotFoundError: when the token is not the caller's.
    """
    row = get_row(ApiToken, token_id, "API token")
    if row.user_id != user.id:
        raise NotFoundError(f"API token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        db.session.commit()
    return row
