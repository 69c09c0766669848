"""The farm bench.scale runs against, and what it costs: a private Postgres and Redis, the
ComfyUI emulators with a GPU worker each, the CPU worker, the progress sink and gunicorn as
the Procfile starts it; per-process CPU seconds by kind and peak memory of the stores."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis

from bench.private_services import PrivateServices
from bench.sampling import EverySecond
from shared.config import Settings, load_settings, redis_db_url
from tests.support.farm import Farm, running_farm
from tests.support.processes import Process
from tests.support.web_server import start_gunicorn

# Children a farm process runs and reaps: the encoders and probes of the media work.
MEDIA_TOOLS = ("ffmpeg", "ffprobe", "espeak-ng", "espeak")


@dataclass
class RunningFarm:
    """The running bench farm: its settings, the API's URL and each process by kind."""

    settings: Settings
    farm: Farm
    url: str
    web: Process
    sink: Process
    services: PrivateServices
    groups: dict[str, list[int]] = field(default_factory=dict)  # kind -> root pids

    def store_pids(self) -> dict[str, list[int]]:
        """Root pids of the private Postgres and Redis (the processes listening on their
        ports), with their children found when measured."""
        ports = {"postgres": self.services.pg_port, "redis": self.services.redis_port}
        found: dict[str, list[int]] = {name: [] for name in ports}
        for conn in psutil.net_connections(kind="tcp"):
            for name, port in ports.items():
                if conn.status == "LISTEN" and conn.laddr.port == port and conn.pid:
                    if conn.pid not in found[name]:
                        found[name].append(conn.pid)
        return found


def bench_settings(services: PrivateServices, artifact_root: Path) -> Settings:
    """Settings on the private servers, with artifacts under `artifact_root`."""
    base = load_settings()
    return base.with_overrides(
        database_url=services.database_url,
        redis_url=redis_db_url(services.redis_url, 0),
        broker_url=redis_db_url(services.redis_url, 1),
        result_backend=redis_db_url(services.redis_url, 2),
        artifact_root=artifact_root,
    )


@contextmanager
def scale_farm(
    settings: Settings, services: PrivateServices, nodes: int, log_dir: Path
) -> Iterator[RunningFarm]:
    """Start every farm process on the private servers (migrated and seeded) and stop them
    after."""
    names = tuple(f"n{i}" for i in range(1, nodes + 1))
    with running_farm(
        settings, log_dir, log_dir / "farm", nodes=names, step_seconds=0.0, beat=False
    ) as farm:
        env = settings.as_environ()
        sink = Process([sys.executable, "-m", "workers.progress_sink"], env, log_dir / "sink.log")
        web = None
        try:
            # As the Procfile's web line: 2 gevent workers of 1000 connections.
            web, url = start_gunicorn(env, log_dir / "web.log", workers=2, connections=1000)
            running = RunningFarm(settings, farm, url, web, sink, services)
            running.groups = {
                "gpu_workers": [p.pid for p in farm.gpu_workers.values()],
                "cpu_worker": [farm.cpu_worker.pid],
                "progress_sink": [sink.pid],
                "web": [web.pid],
                "emulators": [e.pid for e in farm.emulators.values()],
            }
            yield running
        finally:
            if web is not None:
                web.stop()
            sink.stop()


def tree(pids: list[int]) -> list[psutil.Process]:
    """The processes and their descendants still alive."""
    found = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            found += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) so far of each kind's own processes, and of the media tools
    they run (live ones, plus the reaped children every process accounts for)."""
    totals = dict.fromkeys([*groups, "media_tools"], 0.0)
    for kind, pids in groups.items():
        for process in tree(pids):
            try:
                times = process.cpu_times()
                own = times.user + times.system
                reaped = times.children_user + times.children_system
                tool = process.name() in MEDIA_TOOLS
            except psutil.NoSuchProcess:
                continue
            totals["media_tools" if tool else kind] += own
            # A process's reaped children are media tools, except a Celery parent's pool
            # processes (none are recycled here: no max-tasks-per-child).
            totals["media_tools"] += reaped
    return totals


def own_cpu_seconds() -> float:
    """CPU seconds of this benchmark process (the clients and the checks)."""
    times = os.times()
    return times.user + times.system


class PeakMemory(EverySecond):
    """Samples the private Postgres (proportional set size of its processes) and Redis
    (used_memory) once a second; `peaks()` gives the highest of each in MB."""

    def __init__(self, running: RunningFarm) -> None:
        super().__init__()
        self._pg = running.store_pids()["postgres"]
        self._redis = redis.Redis.from_url(running.settings.redis_url)
        self._peaks = {"postgres_mb": 0.0, "redis_mb": 0.0}

    def sample(self) -> None:
        """Record one sample."""
        pss = 0
        for process in tree(self._pg):
            try:
                pss += process.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        used = int(self._redis.info("memory")["used_memory"])
        self._peaks["postgres_mb"] = max(self._peaks["postgres_mb"], pss / 2**20)
        self._peaks["redis_mb"] = max(self._peaks["redis_mb"], used / 2**20)

    def peaks(self) -> dict[str, float]:
        """The highest samples so far, in MB."""
        self.sample()
        return {name: round(value, 1) for name, value in self._peaks.items()}
