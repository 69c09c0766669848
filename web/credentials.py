"""Credentials: password hashes, signed access tokens (JWT) and long-lived API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from werkzeug.security import check_password_hash, generate_password_hash

from shared.errors import AuthenticationError

JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "tower-api"
API_TOKEN_PREFIX = "twr_"
MIN_PASSWORD_LENGTH = 8
# Checked when the email is unknown so a miss costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: int
    role: str
    jti: str
    expires_at: datetime
    session_version: int


def hash_password(password: str) -> str:
    """A scrypt hash of `password` (werkzeug's salted format)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches `stored_hash`; malformed hashes never match."""
    try:
        return check_password_hash(stored_hash or _DUMMY_HASH, password) and bool(stored_hash)
    except ValueError:
        return False


def signing_key(secret: str) -> bytes:
    """The JWT key, derived from SECRET_KEY so tokens and session cookies use separate keys."""
    return hmac.new(secret.encode(), b"tower-access-token", hashlib.sha256).digest()


def issue_access_token(
    secret: str, user_id: int, role: str, ttl_s: int, *, session_version: int = 0
) -> tuple[str, int]:
    """A signed JWT for `user_id` under its account's session version, and its lifetime."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": role,
        "sv": session_version,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=ttl_s),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key(secret), algorithm=JWT_ALGORITHM), ttl_s


def decode_access_token(secret: str, token: str, max_ttl_s: int) -> AccessClaims:
    """Verify a JWT's signature, audience, expiry and lifetime (at most `max_ttl_s`).

    :raises AuthenticationError: when it is expired, tampered with, malformed or issued for
        longer than this farm issues tokens.
    """
    try:
        claims = jwt.decode(
            token,
            signing_key(secret),
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "jti", "sv"]},
        )
        parsed = AccessClaims(
            user_id=int(claims["sub"]),
            role=str(claims.get("role", "")),
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            session_version=int(claims["sv"]),
        )
        lifetime = int(claims["exp"]) - int(claims["iat"])
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("the access token has expired") from exc
    except (jwt.InvalidTokenError, ValueError, TypeError, OverflowError) as exc:
        raise AuthenticationError("the access token is invalid") from exc
    if lifetime > max_ttl_s:
        # Only a stolen or leaked key mints these: this farm never issues them.
        raise AuthenticationError("the access token is invalid")
    return parsed


def new_api_token() -> str:
    """A fresh random API token, shown to its owner once."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    """The stored form of an API token (SHA-256: the token itself carries 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_token(token: str) -> bool:
    """Whether a bearer value looks like an API token rather than a JWT."""
    return token.startswith(API_TOKEN_PREFIX)


def same_secret(a: str, b: str) -> bool:
    """Constant-time string comparison (CSRF tokens)."""
    return hmac.compare_digest(a.encode(), b.encode())
