"""Who is calling: bearer JWTs, API tokens or the dashboard's session cookie, plus CSRF."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import current_app, request, session
from redis.client import Pipeline

from shared.db import db
from shared.errors import AuthenticationError, PermissionDeniedError
from shared.models import ApiToken, Role, User
from shared.settings_store import get_setting
from web import throttle
from web.credentials import (
    AccessClaims,
    decode_access_token,
    hash_api_token,
    is_api_token,
    same_secret,
)

F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
STAFF = (Role.ADMIN.value, Role.OPERATOR.value)
# Accounts that own productions; guests only browse and submit within guest mode.
MEMBERS = (Role.ADMIN.value, Role.OPERATOR.value, Role.USER.value)
_UNSET = object()
USER_KEY = "tower.user"
CLAIMS_KEY = "tower.claims"
API_TOKEN_KEY = "tower.api_token"


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
    token = bearer_token()
    if token is not None:
        return user_from_api_token(token) if is_api_token(token) else user_from_jwt(token)
    if session.get("user_id") is None:
        return None
    if request.method in UNSAFE_METHODS:
        check_csrf()
    return user_from_session()


def bearer_token() -> str | None:
    """The token of the request's Authorization header; None without one.

    :raises AuthenticationError: when the header is not `Bearer <token>`.
    """
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("use 'Authorization: Bearer <token>'")
    return token.strip()


def access_claims_reading(
    reads: Callable[[Pipeline], None],
) -> tuple[AccessClaims | None, list | None]:
    """The verified, unrevoked claims of the request's bearer access token (JWT), and the
    results of the Redis `reads` queued on the revocation check's round trip (failed reads
    as exceptions); (None, None) when it sends another credential or none, reading nothing.
    The account the claims name is not checked here: `check_account` does that.

    :raises AuthenticationError: when the token is invalid or revoked.
    :raises TransientError: when Redis is unreachable (no check, no access).
    """
    token = bearer_token()
    if token is None or is_api_token(token):
        return None, None
    return verified_claims(token, reads)


def verified_claims(
    token: str, reads: Callable[[Pipeline], None] = lambda _: None
) -> tuple[AccessClaims, list]:
    """The claims of an access token, verified and not revoked, and the results of `reads`
    (see access_claims_reading).

    :raises AuthenticationError: when the token is invalid or revoked.
    :raises TransientError: when Redis is unreachable.
    """
    config = current_app.config
    claims = decode_access_token(config["SECRET_KEY"], token, int(config["TOWER_JWT_TTL_S"]))
    revoked, results = throttle.is_revoked_reading("jwt", claims.jti, reads)
    if revoked:
        raise AuthenticationError("the access token has been revoked")
    request.environ[CLAIMS_KEY] = claims
    return claims, results


def user_from_jwt(token: str) -> User:
    """The active user an access token names.

    :raises AuthenticationError: when the token is invalid, revoked, issued before its
        account's sessions were ended, or its user inactive.
    """
    claims, _ = verified_claims(token)
    return current_session_user(claims.user_id, claims.session_version)


def user_from_session() -> User:
    """The active user of the dashboard's session cookie.

    :raises AuthenticationError: when the session is past its absolute lifetime, logged
        out, or was started before its account's sessions were ended.
    """
    started = session.get("login_at")
    max_age = int(current_app.config["TOWER_SESSION_MAX_AGE_S"])
    if not isinstance(started, int) or time.time() - started > max_age:
        raise AuthenticationError("the session has expired; log in again")
    if throttle.is_revoked("session", str(session.get("sid"))):
        raise AuthenticationError("the session has ended; log in again")
    return current_session_user(int(session["user_id"]), session.get("sv"))


def current_session_user(user_id: int, version: object) -> User:
    """The active user, if the credential was issued under the account's session version.

    :raises AuthenticationError: otherwise (logged out everywhere or a new password).
    """
    user = db.session.get(User, user_id)
    check_account(user, version)
    return user  # type: ignore[return-value]  # check_account refused None


def check_account(account: Any, version: object) -> None:
    """That the account (a User, or a row of its is_active and session_version) is active
    and the credential was issued under its session version.

    :raises AuthenticationError: otherwise.
    """
    if account is None or not account.is_active:
        raise AuthenticationError("the account is unknown or deactivated")
    if version != account.session_version:
        raise AuthenticationError("the session has ended; log in again")


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
    user = active_user(row.user_id)
    # The role's cap also ends tokens made before it (or before a demotion to guest).
    longest = row.created_at + api_token_max_lifetime(user.role)
    if min(row.expires_at or longest, longest) <= now:
        raise AuthenticationError("the API token has expired")
    row.last_used_at = now
    db.session.commit()
    request.environ[API_TOKEN_KEY] = row.id  # logging out with it revokes it
    return user


def api_token_max_lifetime(role: str) -> timedelta:
    """How long an API token of an account with `role` may live."""
    config = current_app.config
    days = config[
        "TOWER_GUEST_API_TOKEN_MAX_DAYS" if role == Role.GUEST.value else "TOWER_API_TOKEN_MAX_DAYS"
    ]
    return timedelta(days=int(days))


def active_user(user_id: int) -> User:
    """The user with this id, if the account is active.

    :raises AuthenticationError: when it is missing or deactivated.
    """
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("the account is unknown or deactivated")
    return user


def check_csrf() -> None:
    """Require the session's CSRF token in the X-CSRF-Token header (or, from the dashboard's
    plain HTML forms, their `csrf_token` field).

    :raises PermissionDeniedError: when it is missing or wrong.
    """
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER, "") or request.form.get(CSRF_FIELD, "")
    if not expected or not sent or not same_secret(expected, sent):
        raise PermissionDeniedError(f"cookie-authenticated writes need the {CSRF_HEADER} header")


def start_session(user: User) -> str:
    """Log `user` into the dashboard's signed session cookie; returns its CSRF token.

    The cookie names its own id (so logging out revokes it), the account's session version
    and its start, from which its absolute lifetime runs however often it is used.
    """
    session.clear()
    session["user_id"] = user.id
    session["sid"] = secrets.token_urlsafe(16)
    session["sv"] = user.session_version
    session["login_at"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True
    return session["csrf"]


def end_session() -> None:
    """Revoke this request's access token and session cookie (logout).

    :raises TransientError: when the revocation store is unreachable.
    """
    claims = request.environ.get(CLAIMS_KEY)
    if claims is not None:
        remaining = int((claims.expires_at - datetime.now(UTC)).total_seconds())
        throttle.revoke("jwt", claims.jti, remaining + 1)
    if session.get("sid") and isinstance(session.get("login_at"), int):
        max_age = int(current_app.config["TOWER_SESSION_MAX_AGE_S"])
        remaining = session["login_at"] + max_age - int(time.time())
        throttle.revoke("session", session["sid"], remaining + 1)
    session.clear()


def require_user(*roles: str) -> User:
    """The caller, who must be authenticated and (when given) hold one of `roles`.

    :raises AuthenticationError: without credentials.
    :raises PermissionDeniedError: when the role does not fit.
    """
    user = current_user()
    if user is None:
        raise AuthenticationError("authentication required")
    check_role(user.role, roles)
    return user


def check_role(role: str, roles: tuple[str, ...] = ()) -> None:
    """That an account with `role` may call now: a guest only in guest mode, and one of
    `roles` when given.

    :raises PermissionDeniedError: otherwise.
    """
    if role == Role.GUEST.value and get_setting("guest_mode") == "off":
        raise PermissionDeniedError("guest access is disabled on this farm")
    if roles and role not in roles:
        raise PermissionDeniedError(f"this needs the role {' or '.join(roles)}")


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
