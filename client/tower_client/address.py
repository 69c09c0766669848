"""Where a farm is, and what went wrong reaching it: a URL as people type it (`localhost:5000`),
a name that does not resolve, and a server that answers but is not Tower."""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests

from tower_client.errors import ApiError, TowerError, UnreachableError, reason

# `host:port` has no scheme, though urlsplit would take `host` for one.
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class NotTowerError(ApiError):
    """Something answered at the farm's address, but not as Tower does (another service on
    that port, a proxy's error page, or no HTTP at all)."""

    code = "not_tower"

    def __init__(self, base_url: str, status: int, what: str) -> None:
        super().__init__(
            status, self.code, f"{base_url} does not answer like a Tower farm ({what})"
        )


def normalize_url(url: str) -> str:
    """The farm's base URL: `http://` added when no scheme is given, no trailing slash."""
    url = url.strip()
    if not SCHEME.match(url):
        url = f"http://{url}"
    return url.rstrip("/")


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps (causes, contexts, urllib3's reasons, arguments)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped += list(current.args)
        todo += [w for w in wrapped if isinstance(w, BaseException)]


def transport_error(base_url: str, exc: requests.RequestException) -> TowerError:
    """The error a failure to talk to the farm stands for: a host name that does not resolve,
    an answer that is not HTTP, or a farm that cannot be reached."""
    for cause in causes(exc):
        if isinstance(cause, socket.gaierror):
            host = urlsplit(base_url).hostname
            return UnreachableError(f"cannot reach Tower: the name {host} does not resolve")
        # Another service on the port: Redis and Postgres hang up on an HTTP request. It stays
        # an UnreachableError, as a farm restarting mid-request looks the same.
        if isinstance(cause, http.client.RemoteDisconnected):
            return UnreachableError(
                f"{base_url} does not answer like a Tower farm "
                "(it closed the connection without an HTTP answer)"
            )
        if isinstance(cause, http.client.BadStatusLine):
            return NotTowerError(base_url, 0, "it does not speak HTTP")
    return UnreachableError(f"cannot reach Tower at {base_url}: {reason(exc)}")


def describe_answer(response: requests.Response) -> str:
    """What an answer that is not Tower's looks like: `HTTP 404, text/html`."""
    kind = response.headers.get("Content-Type", "no content type").split(";")[0].strip()
    return f"HTTP {response.status_code}, {kind}"
