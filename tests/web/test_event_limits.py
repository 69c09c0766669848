"""One user cannot starve everyone's live progress: event streams are capped per user and per
job (a 429 JSON answer), each web worker reads a job's stream once for all its listeners, and
the Redis pools stay usable (no 503s). Real gunicorn with two gevent workers, as the Procfile
runs it, real sockets and Redis, with the default caps."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
import sqlalchemy as sa

from shared.config import Settings
from shared.db import db
from shared.progress import ProgressBus
from tests import factories
from tests.support.processes import Process, wait_for
from tests.support.web_server import start_gunicorn
from tests.web.test_events import SseStream, _read_until
from tests.workers.progress_sink.harness import (
    create_job,
    delete_job,
    flushed_client,
    progress_settings,
    read_rows,
)
from web import WEB_DEFAULTS
from web.credentials import issue_access_token

PER_USER = WEB_DEFAULTS["TOWER_SSE_STREAMS_PER_USER"]
PER_JOB = WEB_DEFAULTS["TOWER_SSE_STREAMS_PER_JOB"]
WORKERS = 2


def limits_app():
    """The web app as gunicorn serves it, default caps, a short heartbeat for the tests."""
    from web import create_app

    app = create_app()
    app.config["TOWER_SSE_HEARTBEAT_S"] = 1.0
    return app


@dataclass
class Server:
    """A running gunicorn and the settings it runs with."""

    url: str
    port: int
    process: Process
    settings: Settings


@pytest.fixture(scope="module")
def server(settings: Settings, app, log_dir: Path) -> Iterator[Server]:
    psettings = progress_settings(settings)
    process, url = start_gunicorn(
        psettings.as_environ(), log_dir / "gunicorn-sse-limits.log",
        app="tests.web.test_event_limits:limits_app()", workers=WORKERS,
    )  # fmt: skip
    try:
        yield Server(url, int(url.rsplit(":", 1)[1]), process, psettings)
    finally:
        process.stop()


@pytest.fixture
def bus(server: Server) -> Iterator[ProgressBus]:
    client = flushed_client(server.settings)
    yield ProgressBus(client)
    client.close()


@pytest.fixture
def jobs(app) -> Iterator[dict[str, dict]]:
    """Two users' committed jobs with their owners' tokens, and an operator's token."""
    made = {}
    for name in ("greedy", "patient"):
        job_id, _ = create_job(app, [{"stage": "keyframe"}])
        owner = read_rows(app, job_id)[0]["owner_id"]
        made[name] = {"id": job_id, "token": token(app, owner, "user")}
    with app.app_context():
        operator = factories.make_user(db.session, role="operator")
        db.session.commit()
        made["operator"] = {"id": operator.id, "token": token(app, operator.id, "operator")}
        db.session.remove()
    yield made
    for name in ("greedy", "patient"):
        delete_job(app, made[name]["id"])
    with app.app_context():
        db.session.execute(
            sa.text("DELETE FROM users WHERE id = :id"), {"id": made["operator"]["id"]}
        )
        db.session.commit()
        db.session.remove()


def token(app, user_id: int, role: str) -> str:
    return issue_access_token(app.config["SECRET_KEY"], user_id, role, 600)[0]


def open_stream(server: Server, job_id: int, bearer: str) -> tuple[socket.socket, bytes]:
    """A raw SSE request; the socket and the first bytes of the answer (its status line)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    sock.sendall(
        (
            f"GET /api/anime/generation/{job_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {bearer}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    return sock, _read_until(sock, b"\r\n\r\n")


def opened(server: Server, job_id: int, bearer: str, count: int) -> list[socket.socket]:
    """`count` streams that the server accepted (each has sent its retry line)."""
    sockets = []
    for _ in range(count):
        sock, head = open_stream(server, job_id, bearer)
        sockets.append(sock)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"retry:" in head or b"retry:" in _read_until(sock, b"retry:")
    return sockets


def refusal(server: Server, job_id: int, bearer: str) -> dict:
    """The JSON body of a refused stream (failing if it was not refused with 429)."""
    with requests.get(
        f"{server.url}/api/anime/generation/{job_id}/events",
        headers={"Authorization": f"Bearer {bearer}"}, timeout=20, stream=True,
    ) as response:  # fmt: skip
        assert response.status_code == 429, response.status_code  # not a live stream
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["Retry-After"]
        return response.json()


def blocked_readers(settings: Settings) -> int:
    """Redis clients of the server's database waiting in XREAD right now."""
    db_number = int(settings.redis_url.rsplit("/", 1)[1])
    clients = redis.Redis.from_url(settings.redis_url).client_list()
    return sum(1 for c in clients if c.get("cmd") == "xread" and int(c.get("db", -1)) == db_number)


def test_one_user_over_the_cap_is_refused_and_others_keep_their_progress(server, bus, jobs):
    greedy, patient = jobs["greedy"], jobs["patient"]
    sockets = opened(server, greedy["id"], greedy["token"], PER_USER)
    try:
        body = refusal(server, greedy["id"], greedy["token"])
        assert (
            body["error"] == "rate_limited" and f"{PER_USER} live event streams" in body["message"]
        )
        assert set(body) == {"error", "message", "fields"}
        # Hundreds of further attempts are refused cheaply, never with a 503.
        for _ in range(100):
            sock, head = open_stream(server, greedy["id"], greedy["token"])
            sock.close()
            assert head.startswith(b"HTTP/1.1 429"), head
        # One reader per web worker serves every stream of the job.
        assert blocked_readers(server.settings) <= WORKERS

        stream = SseStream()
        reader = stream.background(
            server.port, f"/api/anime/generation/{patient['id']}/events", patient["token"],
            stop_after=2,
        )  # fmt: skip
        wait_for(lambda: stream.status == 200, 20, what="the other user's stream to open")
        event_id = bus.job_event(patient["id"], status="running", progress=0.3)
        reader.join(20)
        assert [e.get("id") for e in stream.events][-1] == event_id
        assert stream.events[-1]["data"]["progress"] == 0.3
        # The token revocation check still answers: the other user's API works.
        status = requests.get(
            f"{server.url}/api/anime/generation/{patient['id']}/status",
            headers={"Authorization": f"Bearer {patient['token']}"}, timeout=20,
        )  # fmt: skip
        assert status.status_code == 200, status.text
        # The greedy user's own streams are still live.
        event_id = bus.job_event(greedy["id"], status="running", progress=0.5)
        for sock in sockets:
            assert f"id: {event_id}".encode() in _read_until(sock, event_id.encode())
    finally:
        for sock in sockets:
            sock.close()
    # Closed streams give their slots back.
    wait_for(lambda: reopens(server, greedy), 30, what="a slot freed by a closed stream")


def reopens(server: Server, job: dict) -> bool:
    sock, head = open_stream(server, job["id"], job["token"])
    sock.close()
    return head.startswith(b"HTTP/1.1 200")


def test_a_job_has_at_most_its_cap_of_streams_whoever_opens_them(server, bus, jobs):
    greedy, operator = jobs["greedy"], jobs["operator"]
    sockets = opened(server, greedy["id"], greedy["token"], PER_USER)
    try:
        sockets += opened(server, greedy["id"], operator["token"], PER_JOB - PER_USER)
        body = refusal(server, greedy["id"], operator["token"])
        assert f"job {greedy['id']} already has {PER_JOB} live event streams" in body["message"]
        # The operator may still follow another job.
        sockets += opened(server, jobs["patient"]["id"], operator["token"], 1)
    finally:
        for sock in sockets:
            sock.close()
