"""Stream tokens: a browser's EventSource cannot send an Authorization header, so a caller who
may see a job trades its credentials for a short-lived token that opens that job's event
stream, and nothing else, as ``?stream_token=``.

A token names the job, its user and the account's session version, and is signed with the
app's secret key; it is refused once expired, for another job, or when its user can no longer
see the job (deactivated, logged out everywhere, or no longer staff).
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from shared.errors import AuthenticationError, PermissionDeniedError
from shared.models import User
from web.identity import current_session_user
from web.jobs import visible_job

# Signed under its own salt: no other token or cookie of the app is a stream token.
SALT = "tower-stream-token"
STREAM_TOKEN_TTL_S = 300
QUERY_PARAMETER = "stream_token"


def serializer() -> URLSafeSerializer:
    """The signer of stream tokens, keyed by the app's secret key."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_ttl_s() -> int:
    """How long a new stream token lives."""
    return int(current_app.config.get("TOWER_STREAM_TOKEN_TTL_S", STREAM_TOKEN_TTL_S))


def issue_stream_token(user: User, job_id: int, *, ttl_s: int | None = None) -> dict[str, Any]:
    """A token opening the events of a job `user` may see: {token, expires_in, events_url}.

    :raises NotFoundError: when the job is missing or not the caller's.
    """
    visible_job(user, job_id)
    ttl = token_ttl_s() if ttl_s is None else ttl_s
    claims = {"j": job_id, "u": user.id, "sv": user.session_version, "exp": int(time.time()) + ttl}
    token = serializer().dumps(claims)
    events = url_for("events.stream_events", request_id=job_id, **{QUERY_PARAMETER: token})
    return {"token": token, "expires_in": ttl, "events_url": events}


def user_from_stream_token(token: str, job_id: int) -> User:
    """The user a stream token was issued to, if it opens this job's stream now.

    :raises AuthenticationError: when it is tampered with, expired, or its account was
        deactivated or logged out everywhere since.
    :raises PermissionDeniedError: when it was issued for another job.
    """
    try:
        claims = serializer().loads(token)
        job, user_id, version, expires = (
            int(claims["j"]),
            int(claims["u"]),
            int(claims["sv"]),
            int(claims["exp"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise AuthenticationError("the stream token is invalid") from exc
    if expires <= time.time():
        raise AuthenticationError("the stream token has expired; ask for a new one")
    if job != job_id:
        raise PermissionDeniedError(f"this stream token opens job {job}'s events only")
    return current_session_user(user_id, version)
