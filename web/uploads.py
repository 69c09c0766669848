"""Routes that take a file: a multipart form under a limit of their own instead of the API's
JSON body limit (MAX_CONTENT_LENGTH), which every other route keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request
from werkzeug.exceptions import UnsupportedMediaType

F = TypeVar("F", bound=Callable)
LIMIT_ATTRIBUTE = "tower_upload_limit"
FORM = "multipart/form-data"


def takes_upload(config_key: str) -> Callable[[F], F]:
    """Mark a view as taking a multipart upload of at most `app.config[config_key]` bytes."""

    def mark(view: F) -> F:
        setattr(view, LIMIT_ATTRIBUTE, config_key)
        return view

    return mark


def open_upload() -> bool:
    """For a route marked by `takes_upload`: set this request's size limit (werkzeug enforces
    it on the declared length and while reading a chunked body) and require a body to be a
    multipart form.

    :returns: whether the route takes an upload (the JSON body check does not apply).
    :raises UnsupportedMediaType: a body that is not a multipart form.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    key = getattr(view, LIMIT_ATTRIBUTE, None)
    if key is None:
        return False
    request.max_content_length = current_app.config[key]
    has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
    if has_body and request.mimetype != FORM:
        raise UnsupportedMediaType(f"this route takes a {FORM} body with the file")
    return True
