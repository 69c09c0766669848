"""A live event stream whose client leaves gives its slot back at once, not a heartbeat or a
lease later: real gunicorn (gevent), real sockets and Redis, the default 15 s heartbeat."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import Settings
from tests.support.processes import wait_for
from tests.support.web_server import start_gunicorn
from tests.web.test_event_limits import (  # noqa: F401  (bus, jobs)
    Server,
    bus,
    jobs,
    open_stream,
    opened,
    refusal,
)  # noqa: F401  (jobs)
from tests.web.test_events import _read_until
from tests.workers.progress_sink.harness import flushed_client, progress_settings
from web.events import HEARTBEAT_S

PER_USER = 2


def departures_app():
    """The web app as gunicorn serves it, its default heartbeat, two streams per user."""
    from web import create_app

    app = create_app()
    app.config["TOWER_SSE_STREAMS_PER_USER"] = PER_USER
    return app


@pytest.fixture(scope="module")
def server(settings: Settings, app, log_dir: Path) -> Iterator[Server]:
    psettings = progress_settings(settings)
    process, url = start_gunicorn(
        psettings.as_environ(), log_dir / "gunicorn-sse-departures.log",
        app="tests.web.test_event_departures:departures_app()",
    )  # fmt: skip
    flushed_client(psettings).close()
    try:
        yield Server(url, int(url.rsplit(":", 1)[1]), process, psettings)
    finally:
        process.stop()


def test_a_stream_whose_client_left_frees_its_slot_within_seconds(server, bus, jobs):  # noqa: F811
    job = jobs["greedy"]
    sockets = opened(server, job["id"], job["token"], PER_USER)
    try:
        assert refusal(server, job["id"], job["token"])["error"] == "rate_limited"
        sockets.pop().close()
        left = time.monotonic()
        reopened = wait_for(
            lambda: opened_one(server, job), HEARTBEAT_S, 0.5, what="the left stream's slot"
        )
        sockets.append(reopened)
        assert time.monotonic() - left < 5
        # The stream that stayed is still live (an event, not the next keepalive 15 s away).
        event_id = bus.job_event(job["id"], status="running", progress=0.5)
        assert f"id: {event_id}".encode() in _read_until(sockets[0], event_id.encode())
    finally:
        for sock in sockets:
            sock.close()


def opened_one(server, job):
    """A newly opened stream of the job, or None when it was refused."""
    sock, head = open_stream(server, job["id"], job["token"])
    if head.startswith(b"HTTP/1.1 200"):
        return sock
    sock.close()
    return None
