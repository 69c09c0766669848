"""Soak of the running demo farm: the demo production submitted again each time the previous
one ends, for a while, and what the farm holds at the start and at the end.

Start the demo first (`make demo`, or scripts/demo with WEB_PORT, FLOWER_PORT,
DEMO_NODE_A_PORT, DEMO_NODE_B_PORT, DATABASE_URL and REDIS_URL of its own when another farm
runs), then from the repository root, in the same environment:
`python -m bench.soak --minutes 10`. It submits with the `tower` CLI as the demo did (at
TOWER_URL, else WEB_PORT on loopback; the demo's login in var/demo/cli.json) and reads the
farm's processes from var/run/*.pid.

Measured once the warm-up productions (2) have ended (pools, caches and imports filled) and
again at the end, for each farm process with its children: open file descriptors,
processes, resident memory; and for the farm: Postgres connections to its database, and
files in the artifact store and the farm's folders left in the temporary directory
(tower-frames-*, tower-speech-*, tower-upload-*; other farms on the machine make them too).
Tolerances (exit 1 beyond them, or when a production did not succeed): file descriptors +10
per process,
processes unchanged, resident memory +25 % per process, Postgres connections +4, leftover
temporary entries unchanged, artifact files growing by the same count with every production.
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import sqlalchemy as sa

from shared.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
FD_TOLERANCE = 10
RSS_TOLERANCE = 0.25
CONNECTION_TOLERANCE = 4
# The temporary folders farm processes make (stage frames, speech, uploads).
FARM_TEMP_PREFIXES = ("tower-frames-", "tower-speech-", "tower-upload-")
SUBMITTED = re.compile(r"^submitted job (\d+):", re.MULTILINE)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to keep submitting")
    parser.add_argument(
        "--production", default="scripts/demo_production.yaml", help="the production file"
    )
    parser.add_argument("--var", default="var", help="the farm's var/ (FARM_VAR)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="productions before the start is measured"
    )
    return parser.parse_args(argv)


def farm_processes(var: Path) -> dict[str, int]:
    """Each farm process's pid, from scripts/farm's pid files."""
    found = {}
    for pidfile in sorted((var / "run").glob("*.pid")):
        pid = int(pidfile.read_text().strip())
        if psutil.pid_exists(pid):
            found[pidfile.stem] = pid
    return found


def process_figures(pid: int) -> dict[str, float]:
    """File descriptors, processes and resident MB of a process with its children."""
    root = psutil.Process(pid)
    tree = [root, *root.children(recursive=True)]
    fds = processes = rss = 0
    for process in tree:
        try:
            fds += process.num_fds()
            rss += process.memory_info().rss
            processes += 1
        except psutil.NoSuchProcess:
            continue
    return {"fds": fds, "processes": processes, "rss_mb": round(rss / 2**20, 1)}


def file_count(folder: Path) -> int:
    """Files under `folder`."""
    return sum(len(files) for _, _, files in os.walk(folder)) if folder.is_dir() else 0


def farm_temp_entries() -> int:
    """Entries the farm's processes made in the temporary directory and left there."""
    folder = Path(tempfile.gettempdir())
    return sum(1 for entry in folder.iterdir() if entry.name.startswith(FARM_TEMP_PREFIXES))


def snapshot(var: Path, engine: sa.Engine, artifact_root: Path) -> dict:
    """Everything the soak compares, now."""
    with engine.connect() as conn:
        connections = conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    return {
        "at": time.time(),
        "processes": {name: process_figures(pid) for name, pid in farm_processes(var).items()},
        "db_connections": connections,
        "artifact_files": file_count(artifact_root),
        "temp_entries": farm_temp_entries(),
    }


def cli_environ(var: Path) -> dict[str, str]:
    """The environment the demo ran the CLI in: its URL (WEB_PORT) and its login."""
    port = os.environ.get("WEB_PORT", "5000")
    return {
        **os.environ,
        "TOWER_URL": os.environ.get("TOWER_URL", f"http://127.0.0.1:{port}"),
        "TOWER_CONFIG": os.environ.get("TOWER_CONFIG", str(var / "demo" / "cli.json")),
    }


def submit(production: str, env: dict[str, str]) -> tuple[int | None, bool, float]:
    """Submit the production with the CLI and follow it to its end: (job id, succeeded,
    seconds)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tower_client.cli", "submit", production, "--watch"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    found = SUBMITTED.search(done.stdout)
    return (
        (int(found.group(1)) if found else None),
        done.returncode == 0,
        (time.monotonic() - started),
    )


def problems(start: dict, end: dict, files_per_run: list[int]) -> list[str]:
    """Where the end exceeds the start beyond the tolerances."""
    found = []
    for name, before in start["processes"].items():
        after = end["processes"].get(name)
        if after is None:
            found.append(f"{name}: gone")
            continue
        if after["fds"] > before["fds"] + FD_TOLERANCE:
            found.append(f"{name}: file descriptors {before['fds']} -> {after['fds']}")
        if after["processes"] != before["processes"]:
            found.append(f"{name}: processes {before['processes']} -> {after['processes']}")
        if after["rss_mb"] > before["rss_mb"] * (1 + RSS_TOLERANCE):
            found.append(f"{name}: resident {before['rss_mb']} -> {after['rss_mb']} MB")
    if end["db_connections"] > start["db_connections"] + CONNECTION_TOLERANCE:
        found.append(f"db connections {start['db_connections']} -> {end['db_connections']}")
    if end["temp_entries"] > start["temp_entries"]:
        found.append(f"temporary entries {start['temp_entries']} -> {end['temp_entries']}")
    if len(set(files_per_run)) > 1:
        found.append(f"artifact files per production vary: {files_per_run}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    var = (ROOT / args.var).resolve()
    settings = load_settings()
    engine = sa.create_engine(settings.sqlalchemy_url, poolclass=sa.pool.NullPool)
    if not farm_processes(var):
        print(f"no farm processes in {var}/run: start the demo first", file=sys.stderr)
        return 2
    env = cli_environ(var)
    runs = [submit(args.production, env) for _ in range(args.warmup)]
    start = snapshot(var, engine, settings.artifact_root)
    deadline = time.monotonic() + args.minutes * 60
    files_per_run = []
    while time.monotonic() < deadline and all(ok for _, ok, _ in runs):
        before = file_count(settings.artifact_root)
        runs.append(submit(args.production, env))
        files_per_run.append(file_count(settings.artifact_root) - before)
    end = snapshot(var, engine, settings.artifact_root)
    found = problems(start, end, files_per_run)
    failed = [job for job, ok, _ in runs if not ok]
    figures = {
        "minutes": round((end["at"] - start["at"]) / 60, 1),
        "productions": len(runs),
        "failed": failed,
        "production_s_median": round(sorted(s for _, _, s in runs)[len(runs) // 2], 1),
        "artifact_files_per_production": files_per_run[:1],
        "start": {k: v for k, v in start.items() if k != "at"},
        "end": {k: v for k, v in end.items() if k != "at"},
        "problems": found,
        "tolerance": {
            "fds_per_process": FD_TOLERANCE,
            "rss_growth": RSS_TOLERANCE,
            "db_connections": CONNECTION_TOLERANCE,
            "processes": 0,
            "temp_entries": 0,
        },
    }
    print(json.dumps(figures))
    return 0 if not found and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
