"""The dashboard's error page: its pages are read by people in a browser, so an error there
is an HTML page (the API and the dashboard's scripts keep the JSON body)."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

DASHBOARD_PREFIX = "/dashboard"


def wants_error_page() -> bool:
    """Whether this request is for one of the dashboard's pages (found or not)."""
    path = request.path
    return path == DASHBOARD_PREFIX or path.startswith(DASHBOARD_PREFIX + "/")


def render_error_page(status: int, body: dict) -> Response:
    """An error body ({"error", "message", "fields"}) as the dashboard's HTML error page.

    Rendered without the account's menu: the error may be that the account or the database
    could not be read.
    """
    html = render_template(
        "dashboard/error.html",
        status=status,
        code=body["error"],
        message=body["message"],
        problems=body.get("fields") or {},
        user=None,
        csrf_token="",
    )
    return Response(html, status=status, mimetype="text/html")
