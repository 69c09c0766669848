"""Who is calling: bearer JWTs, API tokens or the dashboard's session cookie, plus CSRF."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import current_app, request, session

from shared.db import db
from shared.errors import AuthenticationError, PermissionDeniedError
from shared.models import ApiToken, Role, User
from web import throttle
from web.credentials import decode_access_token, hash_api_token, is_api_token, same_secret

F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
STAFF = (Role.ADMIN.value, Role.OPERATOR.value)
# Accounts that own productions; guests only browse and submit within guest mode.
MEMBERS = (Role.ADMIN.value, Role.OPERATOR.value, Role.USER.value)
_UNSET = object()
USER_KEY = "tower.user"
CLAIMS_KEY = "tower.claims"


def current_user() -> User | None:
    """The authenticated caller of this request, or None when it sent no credentials.

    :raises AuthenticationError: when credentials were sent but are not valid.
    """
    # Cached on the request, not on `g`: an app context (and its `g`) can outlive a request.
    cached = request.environ.get(USER_KEY, _UNSET)
    if cached is _UNSET:
        cached = request.environ[USER_KEY] = authenticate_request()
    return cached


def authenticate_request() -> User | None:
    """Resolve the request's credentials to an active user.

    :raises AuthenticationError: for a bad, expired, revoked or unknown credential.
    :raises PermissionDeniedError: for a cookie-authenticated write without its CSRF token.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("use 'Authorization: Bearer <token>'")
        token = token.strip()
        return user_from_api_token(token) if is_api_token(token) else user_from_jwt(token)
    user_id = session.get("user_id")
    if user_id is None:
        return None
    if request.method in UNSAFE_METHODS:
        check_csrf()
    return active_user(int(user_id))


def user_from_jwt(token: str) -> User:
    """The active user an access token names.

    :raises AuthenticationError: when the token is invalid, revoked or its user inactive.
    """
    claims = decode_access_token(current_app.config["SECRET_KEY"], token)
    if throttle.is_revoked(claims.jti):
        raise AuthenticationError("the access token has been revoked")
    request.environ[CLAIMS_KEY] = claims
    return active_user(claims.user_id)


def user_from_api_token(token: str) -> User:
    """The active owner of an unrevoked, unexpired API token.

    :raises AuthenticationError: otherwise.
    """
    row = db.session.execute(
        db.select(ApiToken).where(ApiToken.token_hash == hash_api_token(token))
    ).scalar_one_or_none()
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("the API token is invalid or revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthenticationError("the API token has expired")
    row.last_used_at = now
    db.session.commit()
    return active_user(row.user_id)


def active_user(user_id: int) -> User:
    """The user with this id, if the account is active.

    :raises AuthenticationError: when it is missing or deactivated.
    """
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("the account is unknown or deactivated")
    return user


def check_csrf() -> None:
    """Require the session's CSRF token in the X-CSRF-Token header.

    :raises PermissionDeniedError: when it is missing or wrong.
    """
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not sent or not same_secret(expected, sent):
        raise PermissionDeniedError(f"cookie-authenticated writes need the {CSRF_HEADER} header")


def start_session(user: User) -> str:
    """Log `user` into the dashboard's signed session cookie; returns its CSRF token."""
    session.clear()
    session["user_id"] = user.id
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True
    return session["csrf"]


def require_user(*roles: str) -> User:
    """The caller, who must be authenticated and (when given) hold one of `roles`.

    :raises AuthenticationError: without credentials.
    :raises PermissionDeniedError: when the role does not fit.
    """
    user = current_user()
    if user is None:
        raise AuthenticationError("authentication required")
    if user.role == Role.GUEST.value and current_app.config["TOWER_GUEST_MODE"] == "off":
        raise PermissionDeniedError("guest access is disabled on this farm")
    if roles and user.role not in roles:
        raise PermissionDeniedError(f"this needs the role {' or '.join(roles)}")
    return user


def requires(*roles: str) -> Callable[[F], F]:
    """Decorate a view: it runs only for an authenticated caller with one of `roles`."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_user(*roles)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def is_staff(user: User) -> bool:
    """Admins and operators see every job."""
    return user.role in STAFF
