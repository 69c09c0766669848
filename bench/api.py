"""Benchmark of the API under gunicorn: the job status endpoint against a trivial endpoint.

Run from the repository root: `python -m bench.api`. It creates its own database (migrated,
seeded with an account and a 3-scene episode job of 11 stage runs with outputs), starts
gunicorn as the Procfile does (2 gevent workers) on a free port, and
drives it with a thread pool of keep-alive `requests` sessions. Rounds alternate between
`GET /health/live` (no database, no Redis) and `GET /api/anime/generation/{id}/status`
(token check, job + stage runs + assets, Redis progress overlay), so both see the same box.
The status requests are unconditional; beside them, rounds of the same request with the
body's ETag in If-None-Match measure the 304 path a poller without news takes.
The last stdout line is one JSON object; ratios are status / trivial in the same run.
Bars (exit 1 when missed): status throughput >= 0.7 of trivial, status p99 < 50 ms, and the
304 path at least as fast as a full answer. Beside throughput, which is the client's as much
as the server's, each kind reports the gunicorn workers' CPU time per request.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import requests
import sqlalchemy as sa

from shared.config import load_settings, redis_db_url
from tests.support.web_server import free_port

log = logging.getLogger(__name__)

CONCURRENCY = 8
THROUGHPUT_BAR = 0.7
P99_BAR_MS = 50.0
ROUND_S = 1.5
ROUNDS = 6  # short rounds in an order turned each time, so the box's drift spreads evenly
BENCH_REDIS_DB = 12
# As the Procfile's web line (gevent, for the SSE streams); `python -m bench.api gthread`
# measures the threaded worker instead.
WORKER_CLASS = sys.argv[1] if len(sys.argv) > 1 else "gevent"


def create_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE through the server's maintenance database."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE, closing leftover connections first."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def seed(settings) -> tuple[str, int]:
    """Migrate the bench database and add a user, a token and a 3-scene episode job."""
    from flask_migrate import upgrade

    from shared.db import db
    from shared.models import Asset, Episode, Job, Project, Scene, StageRun, User
    from web import create_app
    from web.credentials import hash_password, issue_access_token

    app = create_app(settings)
    with app.app_context():
        upgrade()
        user = User(email="bench@example.com", password_hash=hash_password("bench password"))
        db.session.add(user)
        db.session.flush()
        project = Project(owner_id=user.id, name="bench")
        db.session.add(project)
        db.session.flush()
        episode = Episode(project_id=project.id, number=1, title="bench")
        db.session.add(episode)
        db.session.flush()
        scenes = [
            Scene(episode_id=episode.id, order=i, prompt=f"scene {i}", duration_s=2.0)
            for i in range(3)
        ]
        db.session.add_all(scenes)
        db.session.flush()
        job = Job(
            kind="episode",
            owner_id=user.id,
            project_id=project.id,
            episode_id=episode.id,
            status="running",
            progress=0.5,
        )
        db.session.add(job)
        db.session.flush()
        runs = [
            StageRun(
                job_id=job.id,
                scene_id=s.id,
                stage=stage,
                status="succeeded",
                progress=1.0,
                attempt=1,
            )
            for s in scenes
            for stage in ("keyframe", "animate", "interpolate")
        ]
        runs += [StageRun(job_id=job.id, stage=stage, attempt=1) for stage in ("compile", "mix")]
        db.session.add_all(runs)
        db.session.flush()
        db.session.add_all(
            [
                Asset(
                    uri=f"bench/{job.id}/{run.id}.bin",
                    kind="video",
                    job_id=job.id,
                    stage_run_id=run.id,
                )
                for run in runs
                if run.status == "succeeded"
            ]
        )
        db.session.commit()
        token = issue_access_token(settings.secret_key, user.id, user.role, 3600)[0]
        return token, job.id


def start_gunicorn(settings, port: int, log_path: Path) -> subprocess.Popen:
    """gunicorn as in the Procfile, on `port`, with the bench settings."""
    env = {**os.environ, **settings.as_environ(), "WEB_PORT": str(port)}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        WORKER_CLASS,
        *(["--threads", "8"] if WORKER_CLASS == "gthread" else ["--worker-connections", "1000"]),
        "--no-control-socket",
        "web.wsgi:app",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120  # a loaded machine imports the app slowly
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health/live", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not start: {log_path.read_text()[-2000:]}")


def server_cpu_s(server: psutil.Process) -> float:
    """CPU seconds used so far by gunicorn's workers."""
    return sum(sum(child.cpu_times()[:2]) for child in server.children())


def load(
    url: str, headers: dict[str, str], seconds: float, server: psutil.Process, ok: int = 200
) -> dict[str, Any]:
    """Hammer `url` from CONCURRENCY keep-alive sessions for `seconds`, noting the CPU time
    the server's workers spent on it; answers other than `ok` count as errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        mine: list[float] = []
        with requests.Session() as session:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = session.get(url, headers=headers, timeout=10)
                mine.append(time.perf_counter() - started)
                if response.status_code != ok:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    cpu_before = server_cpu_s(server)
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return {
        "server_cpu_s": server_cpu_s(server) - cpu_before,
        "requests": len(latencies),
        "errors": errors[0],
        "seconds": elapsed,
        "latencies": latencies,
    }


def summarize(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Throughput, latency percentiles and the server's CPU per request over several
    rounds."""
    latencies = sorted(x for s in samples for x in s["latencies"])
    total = sum(s["requests"] for s in samples)
    seconds = sum(s["seconds"] for s in samples)
    return {
        "rps": round(total / seconds, 1),
        "server_cpu_ms": round(sum(s["server_cpu_s"] for s in samples) / total * 1000, 3),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "requests": total,
        "errors": sum(s["errors"] for s in samples),
    }


def main() -> int:
    """Run the benchmark and print its figures."""
    logging.basicConfig(level=logging.WARNING)
    base = load_settings()
    name = f"tower_bench_api_{uuid.uuid4().hex[:8]}"
    scheme, _, rest = base.database_url.partition("://")
    server, _, _ = rest.rpartition("/")
    admin_url = f"postgresql+psycopg2://{server}/postgres"
    settings = base.with_overrides(
        env="test",
        database_url=f"{scheme}://{server}/{name}",
        redis_url=redis_db_url(base.redis_url, BENCH_REDIS_DB),
        broker_url=redis_db_url(base.redis_url, BENCH_REDIS_DB),
        result_backend=redis_db_url(base.redis_url, BENCH_REDIS_DB),
    )
    create_database(admin_url, name)
    port = free_port()
    log_path = Path(f"/tmp/{name}.gunicorn.log")
    process = None
    try:
        token, job_id = seed(settings)
        process = start_gunicorn(settings, port, log_path)
        root = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        status_url = f"{root}/api/anime/generation/{job_id}/status"
        assert requests.get(status_url, headers=auth, timeout=5).json()["request_id"] == job_id
        server = psutil.Process(process.pid)
        load(f"{root}/health/live", {}, 1.0, server)  # warm both workers and their pools
        load(status_url, auth, 1.0, server)
        etag = requests.get(status_url, headers=auth, timeout=5).headers["ETag"]
        unchanged = {**auth, "If-None-Match": etag}
        trivial, status, not_modified = [], [], []
        rounds = [
            lambda: trivial.append(load(f"{root}/health/live", {}, ROUND_S, server)),
            lambda: status.append(load(status_url, auth, ROUND_S, server)),
            lambda: not_modified.append(load(status_url, unchanged, ROUND_S, server, ok=304)),
        ]
        for turn in range(ROUNDS):
            for run_round in rounds[turn % 3 :] + rounds[: turn % 3]:
                run_round()
        t, s, n = summarize(trivial), summarize(status), summarize(not_modified)
        figures = {
            "worker_class": WORKER_CLASS,
            "concurrency": CONCURRENCY,
            "trivial_rps": t["rps"],
            "trivial_p50_ms": t["p50_ms"],
            "trivial_p99_ms": t["p99_ms"],
            "status_rps": s["rps"],
            "status_p50_ms": s["p50_ms"],
            "status_p99_ms": s["p99_ms"],
            "status_throughput_ratio": round(s["rps"] / t["rps"], 3),
            "status_p99_ratio": round(s["p99_ms"] / t["p99_ms"], 3),
            "not_modified_rps": n["rps"],
            "not_modified_p50_ms": n["p50_ms"],
            "not_modified_p99_ms": n["p99_ms"],
            "not_modified_vs_status_rps": round(n["rps"] / s["rps"], 3),
            "trivial_server_cpu_ms": t["server_cpu_ms"],
            "status_server_cpu_ms": s["server_cpu_ms"],
            "not_modified_server_cpu_ms": n["server_cpu_ms"],
            "not_modified_vs_status_server_cpu": round(n["server_cpu_ms"] / s["server_cpu_ms"], 3),
            "errors": t["errors"] + s["errors"] + n["errors"],
            "bar_status_throughput_ratio": THROUGHPUT_BAR,
            "bar_status_p99_ms": P99_BAR_MS,
        }
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
        drop_database(admin_url, name)
    print(json.dumps(figures))
    met = (
        figures["errors"] == 0
        and figures["status_throughput_ratio"] >= THROUGHPUT_BAR
        and figures["status_p99_ms"] < P99_BAR_MS
        and figures["not_modified_rps"] >= figures["status_rps"]
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
