"""Flower as the Procfile runs it: basic auth on, and Tower's tasks listed by name."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.processes import REPO, Process, start_celery_worker, wait_for
from tests.support.web_server import free_port

CREDENTIALS = ("ops", "flower-test-secret")


def procfile_command(name: str) -> str:
    """The command line of one Procfile process."""
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name!r} process in the Procfile")


@pytest.fixture(scope="module")
def probe_queue(settings, log_dir: Path) -> Iterator[str]:
    """A worker on a queue of this module's own, so no other worker on the broker takes its
    tasks (concurrent test runs may share the Redis database)."""
    queue = f"flower-probe-{uuid.uuid4().hex[:8]}"
    worker = start_celery_worker(
        settings.as_environ(), log_dir, queues=queue, name="flower-probe", concurrency=1
    )
    try:
        yield queue
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def flower(settings, log_dir: Path) -> Iterator[str]:
    """The Procfile's flower line, run by a shell as a Procfile runner does."""
    port = free_port()
    env = {
        **settings.as_environ(),
        "FLOWER_PORT": str(port),
        "FLOWER_BASIC_AUTH": ":".join(CREDENTIALS),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    }
    process = Process(
        ["bash", "-c", f"exec {procfile_command('flower')}"], env, log_dir / "flower.log"
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(url, timeout=1).status_code > 0
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, 30, interval=0.2, what=f"flower on {url}\n{process.log_text()}")
        yield url
    finally:
        process.stop()


def test_flower_refuses_requests_without_credentials(flower):
    assert requests.get(flower, timeout=5).status_code == 401
    assert requests.get(f"{flower}/api/workers", timeout=5).status_code == 401
    assert requests.get(flower, auth=("ops", "wrong"), timeout=5).status_code == 401
    assert requests.get(flower, auth=CREDENTIALS, timeout=5).status_code == 200


def test_flower_lists_tower_tasks_by_name(flower, celery_app, probe_queue):
    def seen() -> dict | None:
        # Flower hears task events only once its event receiver is up: ping until it does.
        result = celery_app.send_task("tower.ping", queue=probe_queue)
        assert result.get(timeout=30)["answer"] == "pong"
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            tasks = requests.get(f"{flower}/api/tasks", auth=CREDENTIALS, timeout=5).json()
            if result.id in tasks:
                return tasks[result.id]
            time.sleep(0.2)
        return None

    task = wait_for(seen, 40, interval=0, what="flower to see a ping task")
    assert task["name"] == "tower.ping"
