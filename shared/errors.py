"""The one error tree: every failure Tower reports is a FarmError with a status and a code."""

from __future__ import annotations

from typing import Any

# A failure's text as rows, events and the CLI carry it: enough to act on. A node's own message
# can be tens of KB (a pack's download log); the backend's /history keeps it whole.
MESSAGE_LIMIT = 2000


def brief(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text`, cut to `limit` characters with a note of how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} … ({len(text):,} characters in all)"


class FarmError(Exception):
    """Base of every error Tower raises on purpose; renders as an HTTP JSON body."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON body a client sees."""
        return {"error": self.code, "message": self.message, "fields": self.fields}


class ConfigError(FarmError):
    """A setting is missing or malformed; the process must not start."""

    code = "config_error"


class ValidationError(FarmError):
    """Input broke a schema or a rule; nothing was changed."""

    status = 422
    code = "validation_error"


class NotFoundError(FarmError):
    """The named row does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class ConflictError(FarmError):
    """The request is valid but clashes with the current state."""

    status = 409
    code = "conflict"


class TransientError(FarmError):
    """Worth retrying: a backend was unreachable, reset, slow, or out of memory."""

    status = 503
    code = "transient_error"


class PermanentError(FarmError):
    """Retrying cannot help: bad workflow, missing node or model, execution error."""

    status = 422
    code = "permanent_error"


class AuthenticationError(FarmError):
    """No usable credentials: missing, tampered, expired or revoked."""

    status = 401
    code = "unauthorized"


class PermissionDeniedError(FarmError):
    """Valid credentials without the role (or CSRF proof) the request needs."""

    status = 403
    code = "forbidden"


class RateLimitedError(FarmError):
    """Too many attempts in the current window; `retry_after` says when to come back."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
