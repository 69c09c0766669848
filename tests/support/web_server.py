"""The web app served as the Procfile serves it (gunicorn, gevent workers), for tests and
benchmarks that need real HTTP: SSE streams, the CLI, the browser, load."""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import requests

from tests.support.processes import Process, wait_for


def free_port() -> int:
    """A TCP port on loopback that nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str, path: str = "/health/live") -> bool:
    """Whether the web app at `url` serves `path`."""
    try:
        return requests.get(f"{url}{path}", timeout=2).status_code < 500
    except requests.RequestException:
        return False


def start_gunicorn(
    env: Mapping[str, str],
    log_path: Path,
    *,
    app: str = "web.wsgi:app",
    workers: int = 1,
    connections: int = 500,
) -> tuple[Process, str]:
    """gunicorn with gevent workers on a free port; returns the process and its base URL once
    it answers.

    :raises TimeoutError: it did not answer within 30 s (its log is in the message).
    """
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gevent",
        "--worker-connections",
        str(connections),
        "--timeout",
        "60",
        # Two farms on one machine must not share (and delete) one control socket.
        "--no-control-socket",
        app,
    ]
    process = Process(argv, env, log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(url), 120, what=f"gunicorn to answer\n{log_path}")
    except TimeoutError:
        process.stop()
        raise
    return process, url
