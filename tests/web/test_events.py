"""SSE over a real gunicorn (gevent workers) with real HTTP clients, Redis, Postgres and sink."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from shared.config import Settings
from shared.db import db
from shared.progress import ProgressBus, job_key, stages_key
from tests.support.processes import Process, wait_for
from tests.support.web_server import start_gunicorn
from tests.workers.progress_sink.harness import (
    create_job,
    delete_job,
    flushed_client,
    progress_settings,
    read_rows,
    set_status,
    start_sink,
)
from web.credentials import hash_password, issue_access_token

GPU = {"inputs": {"steps": 10, "frames": 2}}
HEARTBEAT_S = 1.0


def sse_app():
    """The web app as gunicorn serves it, with a short heartbeat for the tests."""
    from web import create_app

    app = create_app()
    app.config["TOWER_SSE_HEARTBEAT_S"] = HEARTBEAT_S
    # One user holds fifty streams of one job in the idle-streams test (the caps have their
    # own tests in test_event_limits.py).
    app.config["TOWER_SSE_STREAMS_PER_USER"] = app.config["TOWER_SSE_STREAMS_PER_JOB"] = 60
    return app


@dataclass
class Server:
    """A running gunicorn: its port and process."""

    port: int
    process: Process
    settings: Settings

    def path(self, job_id: int) -> str:
        return f"/api/anime/generation/{job_id}/events"


@pytest.fixture(scope="module")
def server(settings: Settings, app, log_dir: Path) -> Iterator[Server]:
    """gunicorn with one gevent worker, as the Procfile should run the web tier."""
    psettings = progress_settings(settings)
    process, url = start_gunicorn(
        psettings.as_environ(), log_dir / "gunicorn-sse.log", app="tests.web.test_events:sse_app()"
    )
    port = int(url.rsplit(":", 1)[1])
    try:
        yield Server(port, process, psettings)
    finally:
        process.stop()


@pytest.fixture
def bus(server: Server) -> Iterator[ProgressBus]:
    """The pipeline's bus on the server's (emptied) Redis database."""
    client = flushed_client(server.settings)
    yield ProgressBus(client)
    client.close()


@pytest.fixture
def job(app) -> Iterator[dict[str, Any]]:
    """A committed job with two GPU stages, and a token of its owner."""
    job_id, stage_ids = create_job(app, [{"stage": "keyframe", **GPU}, {"stage": "animate", **GPU}])
    owner_id = read_rows(app, job_id)[0]["owner_id"]
    token = issue_access_token(app.config["SECRET_KEY"], owner_id, "user", 600)[0]
    yield {"id": job_id, "stages": stage_ids, "token": token}
    delete_job(app, job_id)


@dataclass
class SseStream:
    """A real HTTP client of one SSE response, parsing events as they arrive."""

    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    status: int = 0
    closed: bool = False
    # Set once the server has answered and sent its first block (retry, snapshot or event).
    answered: threading.Event = field(default_factory=threading.Event)

    def read(
        self,
        port: int,
        path: str,
        token: str | None,
        last_id: str | None = None,
        stop_after: int | None = None,
        timeout: float = 20,
    ) -> SseStream:
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if last_id:
            headers["Last-Event-ID"] = last_id
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        self.status = response.status
        if response.status != 200:
            self.body = response.read()
            conn.close()
            self.answered.set()
            return self
        buffer = b""
        while stop_after is None or len(self.events) < stop_after:
            chunk = response.read1(65536)
            if not chunk:
                self.closed = True
                break
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                self._parse(block.decode())
                self.answered.set()
        conn.close()
        return self

    def _parse(self, block: str) -> None:
        event: dict[str, Any] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "":
                self.comments.append(value)
            elif name in ("id", "event"):
                event[name] = value
            elif name == "data":
                event["data"] = json.loads(value)
        if "event" in event:
            self.events.append(event)

    def background(self, *args: Any, **kwargs: Any) -> threading.Thread:
        thread = threading.Thread(target=self.read, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return thread


def run_pipeline(
    app, bus: ProgressBus, job: dict[str, Any], steps: int = 10, pause: float = 0.02
) -> None:
    """What the real pipeline does, driven by hand: step events, then terminal rows + event."""
    for stage_id, stage in zip(job["stages"], ("keyframe", "animate"), strict=True):
        for step in range(1, steps + 1):
            bus.stage_event(
                job["id"],
                stage_id=stage_id,
                scene_id=None,
                stage=stage,
                status="running",
                step=step,
                max=steps,
                node="3",
                progress=step / steps,
            )
            time.sleep(pause)
        set_status(
            app, "stage_runs", stage_id, "succeeded", step=steps, step_max=steps, progress=1.0
        )
        bus.stage_event(
            job["id"],
            stage_id=stage_id,
            scene_id=None,
            stage=stage,
            status="succeeded",
            step=steps,
            max=steps,
            progress=1.0,
        )
    set_status(app, "jobs", job["id"], "succeeded", progress=1.0, eta_s=0)
    bus.job_event(job["id"], status="succeeded", progress=1.0, eta_s=0)


def test_progress_is_monotonic_and_ends_at_one_with_the_terminal_event(
    app, server, bus, job, log_dir
):
    sink = start_sink(server.settings, log_dir, consumer="sink-sse", min_interval=0.1)
    try:
        stream = SseStream()
        reader = stream.background(server.port, server.path(job["id"]), job["token"])
        # The snapshot first: the server reads the job's history after sending its headers,
        # so an event published before it did would come as history instead.
        wait_for(lambda: stream.events, 60, what="the job's snapshot")
        bus.job_event(job["id"], status="running", progress=0.0)
        run_pipeline(app, bus, job)
        reader.join(20)
    finally:
        sink.stop()
    assert stream.status == 200 and stream.closed
    progress = [e["data"]["progress"] for e in stream.events if e["event"] == "job"]
    assert progress == sorted(progress) and len(progress) >= 3  # the sink's derived events
    last = stream.events[-1]
    assert last["event"] == "job" and last["data"] == {
        "status": "succeeded",
        "progress": 1,
        "eta_s": 0,
        "outputs": [],  # the stages recorded no assets
    }
    assert all(p < 1.0 for p in progress[:-1])
    stage = next(e for e in stream.events if e["event"] == "stage")
    assert set(stage["data"]) == {
        "stage_id",
        "scene_id",
        "stage",
        "status",
        "progress",
        "step",
        "max",
        "node",
        "comfy_node",
        "backend",
    }
    # The first event is the row's snapshot (no history yet, so no id); the rest are stream ids.
    assert "id" not in stream.events[0] and stream.events[0]["data"]["status"] == "queued"
    ids = [e["id"] for e in stream.events[1:]]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    # The rows equal the final state.
    row, stages = read_rows(app, job["id"])
    assert (row["status"], row["progress"]) == ("succeeded", 1.0)
    assert [(s["status"], s["step"], s["progress"]) for s in stages] == [("succeeded", 10, 1.0)] * 2


def test_reconnecting_with_last_event_id_misses_nothing(app, server, bus, job):
    path = server.path(job["id"])
    publisher = threading.Thread(target=run_pipeline, args=(app, bus, job), kwargs={"pause": 0.01})
    publisher.start()
    part = SseStream().read(server.port, path, job["token"], stop_after=5)
    time.sleep(0.2)  # events keep coming while the client is away
    rest = SseStream().read(server.port, path, job["token"], last_id=part.events[-1]["id"])
    publisher.join()
    whole = SseStream().read(server.port, path, job["token"])
    assert rest.closed and whole.closed
    assert [e["id"] for e in part.events + rest.events] == [e["id"] for e in whole.events]
    assert len(whole.events) == 2 * 11 + 1


def test_an_id_older_than_the_capped_stream_gets_a_snapshot_first(app, server, bus, job):
    capped = ProgressBus(bus.client, maxlen=10)
    oldest = capped.job_event(job["id"], status="running", progress=0.1)
    for step in range(1, 301):
        capped.stage_event(
            job["id"],
            stage_id=job["stages"][0],
            stage="keyframe",
            status="running",
            step=step,
            max=300,
            progress=step / 300,
        )
    capped.job_event(job["id"], status="running", progress=0.4, eta_s=12)
    newest = capped.stage_event(
        job["id"],
        stage_id=job["stages"][0],
        stage="keyframe",
        status="running",
        step=300,
        max=300,
        progress=1.0,
    )
    stream = SseStream()
    reader = stream.background(server.port, server.path(job["id"]), job["token"], last_id=oldest)
    # The snapshot is taken when the stream opens; what comes after it must follow it.
    wait_for(lambda: stream.events, 20, what="the snapshot")
    live = capped.stage_event(
        job["id"],
        stage_id=job["stages"][1],
        stage="animate",
        status="running",
        step=1,
        max=10,
        progress=0.1,
    )
    set_status(app, "jobs", job["id"], "failed")
    end = capped.job_event(job["id"], status="failed", progress=0.4)
    reader.join(10)
    assert [(e["event"], e["id"]) for e in stream.events] == [
        ("job", newest),
        ("stage", live),
        ("job", end),
    ]
    assert stream.events[0]["data"] == {"status": "running", "progress": 0.4, "eta_s": 12}


def test_idle_streams_get_heartbeats_and_end_when_the_row_ends(app, server, bus, job):
    stream = SseStream()
    reader = stream.background(server.port, server.path(job["id"]), job["token"])
    wait_for(
        lambda: stream.comments.count("keepalive") >= 2, HEARTBEAT_S * 20, what="two heartbeats"
    )
    assert not stream.closed
    # The job is cancelled while Redis has nothing to say: the row ends the stream.
    set_status(app, "jobs", job["id"], "cancelled")
    reader.join(HEARTBEAT_S * 3)
    assert stream.closed
    assert stream.events[-1]["event"] == "job"
    assert stream.events[-1]["data"]["status"] == "cancelled"


def test_streams_need_the_owner_and_a_well_formed_id(app, server, job):
    path = server.path(job["id"])
    assert SseStream().read(server.port, path, None).status == 401
    stranger_job, _ = create_job(app, [])
    try:
        stranger = read_rows(app, stranger_job)[0]["owner_id"]
        token = issue_access_token(app.config["SECRET_KEY"], stranger, "user", 600)[0]
        assert SseStream().read(server.port, path, token).status == 404
    finally:
        delete_job(app, stranger_job)
    assert SseStream().read(server.port, path, job["token"], last_id="bogus").status == 422
    # "²" passes str.isdigit() but not int() (the stream broke after its 200), and Redis
    # refuses ids past 64 bits (every event was skipped as older than the id).
    # And 4400 digits, which int() refuses, was a 500.
    for last_id in ("%C2%B2-0", f"{2**64}-0", f"0-{2**64}"):
        status, body = answer_of(server.port, f"{path}?last_event_id={last_id}", job["token"])
        assert status == 422, last_id
        assert json.loads(body)["fields"] == {"Last-Event-ID": "not a stream id"}
    status, _ = answer_of(server.port, path, job["token"], last_id="9" * 4400 + "-0")
    assert status == 422
    assert answer_of(server.port, f"{path}?last_event_id={2**64 - 1}-0", job["token"])[0] == 200
    # Given twice, the first was taken whichever the client meant.
    status, body = answer_of(
        server.port, f"{path}?last_event_id=1-0&last_event_id=2-0", job["token"]
    )
    assert status == 422 and "last_event_id" in json.loads(body)["fields"], body


def answer_of(port: int, path: str, token: str, last_id: str | None = None) -> tuple[int, bytes]:
    """The status of a stream's answer, and its body unless it is a stream (left unread)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"Authorization": f"Bearer {token}"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, b"" if response.status == 200 else response.read()
    finally:
        conn.close()


def test_a_retried_job_streams_past_its_first_ending(app, server, bus, job):
    key, anim = job["stages"]
    bus.stage_event(job["id"], stage_id=key, stage="keyframe", status="failed", step=3, max=10)
    bus.job_event(job["id"], status="failed", progress=0.1)
    bus.job_event(job["id"], status="queued", progress=0.1)
    bus.stage_event(job["id"], stage_id=anim, stage="animate", status="running", step=1, max=10)
    set_status(app, "jobs", job["id"], "succeeded", progress=1.0)
    bus.job_event(job["id"], status="succeeded", progress=1.0)
    stream = SseStream().read(server.port, server.path(job["id"]), job["token"])
    assert [e["data"]["status"] for e in stream.events] == [
        "failed",
        "failed",
        "queued",
        "running",
        "succeeded",
    ]
    assert stream.closed


def test_the_dashboard_session_cookie_opens_a_stream(app, server, bus, job):
    owner_id = read_rows(app, job["id"])[0]["owner_id"]
    with app.app_context():
        email = db.session.execute(
            sa.text("UPDATE users SET password_hash = :h WHERE id = :id RETURNING email"),
            {"h": hash_password("a long passphrase"), "id": owner_id},
        ).scalar()
        db.session.commit()
        db.session.remove()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(
        "POST",
        "/auth/login",
        body=json.dumps({"email": email, "password": "a long passphrase", "session": True}),
        headers={"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    assert response.status == 200, response.read()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    response.read()
    bus.job_event(job["id"], status="cancelled", progress=0.0)
    set_status(app, "jobs", job["id"], "cancelled")
    conn.request("GET", server.path(job["id"]), headers={"Cookie": cookie})
    response = conn.getresponse()
    body = response.read().decode()
    assert response.status == 200
    assert "event: job" in body and '"status":"cancelled"' in body


def test_fifty_idle_streams_do_not_block_other_requests(server, bus, job):
    request = (
        f"GET {server.path(job['id'])} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {job['token']}\r\nAccept: text/event-stream\r\n\r\n"
    )
    sockets = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(request.encode())
            sockets.append(sock)
        for sock in sockets:
            assert b"retry:" in _read_until(sock, b"retry:")
        # Were the streams holding the workers, this request would never be answered.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request(
            "GET",
            f"/api/anime/generation/{job['id']}/status",
            headers={"Authorization": f"Bearer {job['token']}"},
        )
        response = conn.getresponse()
        assert response.status == 200, response.read()
        # Every idle stream is still live: one event reaches all fifty.
        event_id = bus.job_event(job["id"], status="running", progress=0.2)
        for sock in sockets:
            assert f"id: {event_id}".encode() in _read_until(sock, event_id.encode())
    finally:
        for sock in sockets:
            sock.close()


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_live_state_is_laid_over_running_rows(app):
    from web.events import lay_live_state, read_live_state

    bus = ProgressBus.from_url(app.config["SETTINGS"].redis_url)
    job_id = 900_001
    redis.Redis.from_url(app.config["SETTINGS"].redis_url).delete(
        stages_key(job_id), job_key(job_id)
    )
    bus.stage_event(
        job_id,
        stage_id=1,
        stage="animate",
        status="running",
        step=7,
        max=10,
        node="30",
        progress=0.7,
    )
    bus.stage_event(
        job_id, stage_id=2, stage="keyframe", status="running", step=1, max=10, progress=0.1
    )
    bus.job_event(job_id, status="running", progress=0.6, eta_s=5)
    report = {
        "request_id": job_id,
        "status": "running",
        "progress": 0.2,
        "eta_s": None,
        "stages": [
            {"id": 1, "status": "queued", "progress": 0.0},
            {"id": 2, "status": "succeeded", "progress": 1.0},
        ],
    }
    with app.app_context():
        fresh = lay_live_state(report, read_live_state(job_id))
    assert fresh["stages"][0] == {
        "id": 1,
        "status": "running",
        "progress": 0.7,
        "step": 7,
        "max": 10,
        "node": "30",
        "comfy_node": "30",
    }
    assert fresh["stages"][1] == {"id": 2, "status": "succeeded", "progress": 1.0}
    assert (fresh["progress"], fresh["eta_s"]) == (0.6, 5)
