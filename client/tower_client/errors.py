"""The client's errors: what the server refused (ApiError), what never reached it, and what the
client refuses itself. Every one is a TowerError with a message, a code and the fields it
names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

MAX_FIELDS = 4


class TowerError(Exception):
    """Base of the client's errors: one line for a person, and the fields it is about."""

    code = "error"

    def __init__(self, message: str, *, fields: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ApiError(TowerError):
    """The server answered with an error: its HTTP status, error code, message and fields."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None) -> None:
        super().__init__(message, fields=fields)
        self.status = status
        self.code = code

    def __str__(self) -> str:
        pairs = list(flatten_fields(self.fields or {}))
        # Tower's messages often list the fields already; then they are not repeated.
        if not pairs or any(text and text in self.message for _, text in pairs):
            return self.message
        detail = "; ".join(f"{k}: {v}" for k, v in pairs[:MAX_FIELDS])
        more = f" and {len(pairs) - MAX_FIELDS} more" if len(pairs) > MAX_FIELDS else ""
        return f"{self.message} ({detail}{more})"


class UnreachableError(TowerError):
    """The server did not answer (refused, timed out, dropped)."""

    code = "unreachable"


class NotReadyError(TowerError):
    """What was asked for does not exist yet (a job with no finished keyframe)."""

    code = "not_ready"


class UnsafeResponseError(TowerError):
    """The server answered something the client refuses to act on (a file name that would
    write outside the chosen folder)."""

    code = "unsafe_response"


def flatten_fields(fields: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted field, message) pairs from a nested error `fields` object."""
    if isinstance(fields, dict):
        for key, value in fields.items():
            yield from flatten_fields(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(fields, list):
        yield prefix, " ".join(str(v) for v in fields)
    else:
        yield prefix, str(fields)


def to_api_error(response: requests.Response) -> ApiError:
    """The ApiError an error response stands for (Tower's {error, message, fields} body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        code = str(body.get("error") or body.get("code") or response.status_code)
        return ApiError(response.status_code, code, str(body["message"]), body.get("fields"))
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return ApiError(response.status_code, "http_error", f"HTTP {response.status_code} {text}")


def reason(exc: requests.RequestException) -> str:
    """A short reason for a transport failure."""
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or dropped"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__
