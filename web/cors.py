"""CORS: browsers on the origins the `cors_origins` setting lists may call the API with
credentials; every other origin gets no CORS header at all.

flask-cors fixes its origins when the app is built (dynamic origins are an open request
there), and the list is a farm setting that changes at run time, so the few headers are
set here, from the setting, per request.
"""

from __future__ import annotations

from flask import Flask, Response, request

from shared.errors import PermissionDeniedError
from shared.settings_store import get_setting

ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    "Authorization, Content-Type, X-CSRF-Token, Last-Event-ID, Range, If-Range, "
    "If-None-Match, If-Modified-Since"
)
EXPOSED_HEADERS = "Retry-After, ETag, Content-Range, Accept-Ranges, Content-Disposition"
PREFLIGHT_MAX_AGE_S = 600


def allowed_origin() -> str | None:
    """The request's Origin when the setting lists it, else None."""
    origin = request.headers.get("Origin")
    return origin if origin and origin in get_setting("cors_origins") else None


def is_preflight() -> bool:
    """Whether this is a browser's CORS preflight (OPTIONS naming the method to come)."""
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def answer_preflight() -> Response | None:
    """Answer a preflight from a listed origin (204); refuse one from any other (403).

    :raises PermissionDeniedError: for an origin the setting does not list.
    """
    if not is_preflight():
        return None
    if allowed_origin() is None:
        raise PermissionDeniedError("this origin may not call the API from a browser")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    return response


def add_cors_headers(response: Response) -> Response:
    """Let a listed origin read the response, with credentials."""
    if "Origin" not in request.headers:
        return response
    response.vary.add("Origin")  # caches must not hand one origin's answer to another
    origin = allowed_origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        if not is_preflight():
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def register_cors(app: Flask) -> None:
    """Answer preflights before anything else runs, and mark every response."""
    app.before_request_funcs.setdefault(None, []).insert(0, answer_preflight)
    app.after_request(add_cors_headers)
