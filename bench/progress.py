"""Benchmark of live progress: sink throughput, publish->row and publish->SSE latency.

Run from the repository root: `python -m bench.progress`. It starts what it needs: a private
redis-server (or, without the binary, database 10 of REDIS_URL), a throwaway Postgres database
built by the migrations, the sink (`python -m workers.progress_sink`) and gunicorn with gevent
workers. Each figure stands beside a raw Redis baseline measured in the same run:
- sink events/s (sink stopped with SIGSTOP while a backlog is published, then resumed) beside a
  bare XREADGROUP + XACK drain of the same backlog (it decodes nothing);
- publish -> row updated and publish -> SSE delivered latency beside a raw XADD -> XREAD
  round trip (a blocked reader thread, as the SSE streams and the sink are).
The figures are printed as one JSON object on the last line. Bars (exit 1 when missed): the
sink drains at least 0.8 of the bare drain's rate, publish -> row p99 under 250 ms and
publish -> SSE p99 under 50 ms.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import redis
from flask_migrate import upgrade

from shared.app import create_base_app
from shared.config import load_settings, redis_db_url
from shared.db import db
from shared.progress import ACTIVE_KEY, SINK_GROUP, ProgressBus, events_key
from tests.support.web_server import free_port

BACKLOG = 20_000
DRAIN_BAR = 0.8
ROW_P99_BAR_MS = 250.0
SSE_P99_BAR_MS = 50.0
BACKLOG_JOBS = 20
LATENCY_SAMPLES = 40
SSE_SAMPLES = 300


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`, in the same unit."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_redis(workdir: Path) -> tuple[subprocess.Popen | None, str]:
    """A private redis-server, or database 10 of the configured Redis without the binary."""
    binary = shutil.which("redis-server")
    if binary is None:
        url = redis_db_url(load_settings().redis_url, 10)
        redis.Redis.from_url(url).flushdb()
        return None, url
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def admin_execute(database_url: str, statement: str) -> None:
    """Run one statement on the server's `postgres` database, outside a transaction."""
    conn = psycopg2.connect(database_url.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def seed_rows(app, jobs: int, stages_per_job: int) -> tuple[list[tuple[int, list[int]]], int]:
    """Commit a user, a project and `jobs` jobs with GPU stage runs; (job ids, user id)."""
    from shared.models import Job, Project, StageRun, User

    with app.app_context():
        user = User(
            email=f"bench-{uuid.uuid4().hex[:8]}@example.com", password_hash="x", role="user"
        )
        db.session.add(user)
        db.session.flush()
        project = Project(name="bench", owner_id=user.id)
        db.session.add(project)
        db.session.flush()
        made = []
        for _ in range(jobs):
            job = Job(kind="scene", owner_id=user.id, project_id=project.id)
            db.session.add(job)
            db.session.flush()
            runs = [
                StageRun(
                    job_id=job.id,
                    stage="animate",
                    attempt=1 + i,
                    inputs={"steps": 20, "frames": 16},
                )
                for i in range(stages_per_job)
            ]
            db.session.add_all(runs)
            db.session.flush()
            made.append((job.id, [r.id for r in runs]))
        user_id = user.id
        db.session.commit()
        db.session.remove()
        return made, user_id


def raw_round_trip(client: redis.Redis, samples: int = 300) -> list[float]:
    """XADD -> XREAD latency (ms) seen by a reader thread blocked on the stream."""
    key = f"bench:raw:{uuid.uuid4().hex}"
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    reader_client = redis.Redis(connection_pool=client.connection_pool)

    def read() -> None:
        cursor = "$"
        while len(got) < samples:
            reply = reader_client.xread({key: cursor}, block=2000, count=100)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    got[fields[b"n"].decode()] = time.perf_counter()
                    cursor = entry_id

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(0.2)
    for n in range(samples):
        sent[str(n)] = time.perf_counter()
        client.xadd(key, {"n": n})
        time.sleep(0.005)
    thread.join(10)
    client.delete(key)
    return [(got[n] - sent[n]) * 1000 for n in sent if n in got]


def raw_drain_rate(client: redis.Redis, bus: ProgressBus, count: int) -> float:
    """Entries/s of a bare XREADGROUP + XACK loop over a backlog like the sink's (reading
    the entries, decoding none)."""
    job_id = 999_999
    for step in range(count):
        bus.stage_event(
            job_id,
            stage_id=1,
            stage="animate",
            status="running",
            step=step,
            max=count,
            progress=step / count,
        )
    key = events_key(job_id)
    client.xgroup_create(key, "raw", id="0")
    started = time.perf_counter()
    done = 0
    while done < count:
        reply = client.xreadgroup("raw", "raw", {key: ">"}, count=500)
        entries = reply[0][1]
        client.xack(key, "raw", *[e[0] for e in entries])
        done += len(entries)
    elapsed = time.perf_counter() - started
    client.delete(key)
    client.srem(ACTIVE_KEY, job_id)
    return count / elapsed


def lag(client: redis.Redis, job_ids: list[int]) -> int:
    """Entries the sink has not acknowledged yet (pending plus undelivered), asked in one
    round trip (the poll competes with the sink for the machine)."""
    pipe = client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.xinfo_groups(events_key(job_id))
    total = 0
    for groups in pipe.execute(raise_on_error=False):
        if isinstance(groups, Exception):
            return 1
        group = next((g for g in groups if g["name"] in (SINK_GROUP, SINK_GROUP.encode())), None)
        if group is None:
            return 1
        total += int(group["pending"]) + int(group.get("lag") or 0)
    return total


def sink_rate(
    client: redis.Redis, bus: ProgressBus, sink: subprocess.Popen, jobs: list[tuple[int, list[int]]]
) -> float:
    """Events/s the sink drains from a backlog published while it was stopped."""
    job_ids = [j for j, _ in jobs]
    for job_id, stages in jobs:  # let the sink join each stream's group first
        bus.stage_event(
            job_id, stage_id=stages[0], stage="animate", status="running", step=0, max=20
        )
    deadline = time.monotonic() + 20
    while lag(client, job_ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(sink.pid, signal.SIGSTOP)
    per_job = BACKLOG // len(jobs)
    for step in range(per_job):
        for job_id, stages in jobs:
            bus.stage_event(
                job_id,
                stage_id=stages[step % len(stages)],
                stage="animate",
                status="running",
                step=step % 20,
                max=20,
                node="30",
                progress=(step % 20) / 20,
            )
    started = time.perf_counter()
    os.kill(sink.pid, signal.SIGCONT)
    while lag(client, job_ids):
        time.sleep(0.01)
    return per_job * len(jobs) / (time.perf_counter() - started)


def row_latency(app, bus: ProgressBus, job_id: int, stage_id: int) -> list[float]:
    """Publish -> StageRun row updated (ms), one event per coalescing window.

    The first sample is a job's first event, which waits for the sink to discover the stream.
    """
    import sqlalchemy as sa

    samples = []
    with app.app_context():
        conn = db.engine.connect()
        for n in range(LATENCY_SAMPLES + 1):
            started = time.perf_counter()
            bus.stage_event(
                job_id,
                stage_id=stage_id,
                stage="animate",
                status="running",
                step=1000 + n,
                max=2000,
                progress=0.5,
            )
            while (
                conn.execute(
                    sa.text("SELECT step FROM stage_runs WHERE id = :id"), {"id": stage_id}
                ).scalar()
                != 1000 + n
            ):
                conn.commit()
                time.sleep(0.001)
            conn.commit()
            samples.append((time.perf_counter() - started) * 1000)
            time.sleep(0.3)
        conn.close()
    return samples


def sse_latency(port: int, token: str, bus: ProgressBus, job_id: int, stage_id: int) -> list[float]:
    """Publish -> event delivered to a real HTTP SSE client through gunicorn (ms)."""
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "GET",
        f"/api/anime/generation/{job_id}/events",
        headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "0-1"},
    )
    response = conn.getresponse()
    assert response.status == 200, response.read()

    def read() -> None:
        buffer = b""
        while len(got) < SSE_SAMPLES:
            chunk = response.read1(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                for line in block.split(b"\n"):
                    if line.startswith(b"data: "):
                        data = json.loads(line[6:])
                        if data.get("max") == 99_999:
                            got[data["step"]] = time.perf_counter()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(0.5)
    for n in range(SSE_SAMPLES):
        sent[n] = time.perf_counter()
        bus.stage_event(
            job_id,
            stage_id=stage_id,
            stage="animate",
            status="running",
            step=n,
            max=99_999,
            progress=0.5,
        )
        time.sleep(0.01)
    thread.join(15)
    conn.close()
    return [(got[n] - sent[n]) * 1000 for n in sent if n in got]


def wait_http(port: int, timeout: float = 30) -> None:
    """Wait until something answers HTTP on `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def main() -> int:
    """Start everything, measure, print the JSON figures; returns the exit status."""
    from web.credentials import issue_access_token

    base = load_settings()
    workdir = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    redis_process, redis_url = start_redis(workdir)
    name = f"tower_bench_{uuid.uuid4().hex[:8]}"
    database_url = base.database_url.rsplit("/", 1)[0] + f"/{name}"
    admin_execute(base.database_url, f'CREATE DATABASE "{name}"')
    settings = base.with_overrides(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        artifact_root=workdir / "artifacts",
    )
    env = {**os.environ, **settings.as_environ()}
    children: list[subprocess.Popen] = []
    try:
        app = create_base_app(settings, name="bench")
        with app.app_context():
            upgrade()
        jobs, user_id = seed_rows(app, BACKLOG_JOBS + 2, 4)
        client = redis.Redis.from_url(redis_url)
        bus = ProgressBus(client, maxlen=BACKLOG)
        logs = open(workdir / "children.log", "ab")  # noqa: SIM115 - closed with the children
        sink = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workers.progress_sink",
                "--consumer",
                "bench",
                "--log-level",
                "WARNING",
            ],
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        children.append(sink)
        port = free_port()
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--worker-class",
                    "gevent",
                    "--worker-connections",
                    "500",
                    "--no-control-socket",
                    "web:create_app()",
                ],
                env=env,
                stdout=logs,
                stderr=subprocess.STDOUT,
            )
        )
        wait_http(port)
        token = issue_access_token(settings.secret_key, user_id, "user", 3600)[0]

        raw = raw_round_trip(client)
        # The box is shared: drain raw before and after the sink and take the mean.
        raw_before = raw_drain_rate(client, bus, BACKLOG)
        rate = sink_rate(client, bus, sink, jobs[:BACKLOG_JOBS])
        raw_rate = (raw_before + raw_drain_rate(client, bus, BACKLOG)) / 2
        row_job, row_stages = jobs[BACKLOG_JOBS]
        first_row, *rows = row_latency(app, bus, row_job, row_stages[0])
        sse_job, sse_stages = jobs[BACKLOG_JOBS + 1]
        sse = sse_latency(port, token, bus, sse_job, sse_stages[0])
        raw_p50 = statistics.median(raw)
        figures: dict[str, Any] = {
            "sink_events_per_s": round(rate),
            "raw_drain_events_per_s": round(raw_rate),
            "sink_vs_raw_drain": round(rate / raw_rate, 3),
            "raw_xadd_xread_ms_p50": round(raw_p50, 3),
            "raw_xadd_xread_ms_p99": round(percentile(raw, 99), 3),
            "row_latency_ms_p50": round(statistics.median(rows), 2),
            "row_latency_ms_p99": round(percentile(rows, 99), 2),
            "sse_latency_ms_p50": round(statistics.median(sse), 2),
            "sse_latency_ms_p99": round(percentile(sse, 99), 2),
            "row_latency_first_event_ms": round(first_row, 2),
            "row_vs_raw_p50": round(statistics.median(rows) / raw_p50, 1),
            "sse_vs_raw_p50": round(statistics.median(sse) / raw_p50, 1),
            "sse_delivered": f"{len(sse)}/{SSE_SAMPLES}",
            "backlog_events": BACKLOG,
            "bar_sink_vs_raw_drain": DRAIN_BAR,
            "bar_row_latency_ms_p99": ROW_P99_BAR_MS,
            "bar_sse_latency_ms_p99": SSE_P99_BAR_MS,
        }
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
        if redis_process is not None:
            redis_process.kill()
            redis_process.wait(5)
        admin_execute(base.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures))
    met = (
        figures["sink_vs_raw_drain"] >= DRAIN_BAR
        and figures["row_latency_ms_p99"] < ROW_P99_BAR_MS
        and figures["sse_latency_ms_p99"] < SSE_P99_BAR_MS
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
