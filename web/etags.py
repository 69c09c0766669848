"""Conditional answers for polled bodies: an ETag over the body, and a 304 without one when
the poller already holds it (no serialization, no bytes on the wire)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, request


def body_etag(body: Any) -> str:
    """A strong ETag of a JSON-able body (datetimes as their text)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def conditional(body: Any) -> Response | tuple[Any, int, dict[str, str]]:
    """A 304 when If-None-Match names the body's ETag, else the body with its ETag."""
    etag = body_etag(body)
    if etag in request.if_none_match:
        response = Response(status=304)
        response.set_etag(etag)
        return response
    return body, 200, {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
