"""Flower as the Procfile runs it: basic auth on (never a publicly known login, and in
production only the one given), and Tower's tasks listed by name."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from shared.config import load_settings
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


def flower_env(settings, **extra: str) -> dict[str, str]:
    """The environment the Procfile's flower line runs in, on a free port."""
    return {
        **settings.as_environ(),
        "FLOWER_PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        **extra,
    }


def flower_command() -> list[str]:
    """The Procfile's flower line, run by a shell as a Procfile runner does."""
    return ["bash", "-c", f"exec {procfile_command('flower')}"]


def start_flower(env: dict[str, str], log_path: Path) -> tuple[Process, str]:
    """Start Flower and wait until it answers; returns the process and its URL."""
    process = Process(flower_command(), env, log_path)
    url = f"http://127.0.0.1:{env['FLOWER_PORT']}"

    def answers() -> bool:
        try:
            return requests.get(url, timeout=1).status_code > 0
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, 30, interval=0.2, what=lambda: f"flower on {url}\n{process.log_text()}")
    except TimeoutError:
        process.stop()
        raise
    return process, url


@pytest.fixture(scope="module")
def flower(settings, log_dir: Path) -> Iterator[str]:
    """Flower with the login this farm was given."""
    env = flower_env(settings, FLOWER_BASIC_AUTH=":".join(CREDENTIALS))
    process, url = start_flower(env, log_dir / "flower.log")
    try:
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


@pytest.mark.parametrize("login", ["", "tower:tower-dev"], ids=["unset", "documented-default"])
def test_production_flower_refuses_to_start_without_a_login_of_its_own(settings, tmp_path, login):
    env = flower_env(
        settings.with_overrides(env="production", secret_key="k" * 40),
        FLOWER_BASIC_AUTH=login,
        TOWER_SECRETS_DIR=str(tmp_path),
    )
    result = subprocess.run(
        flower_command(), cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    named = [line for line in result.stderr.splitlines() if "FLOWER_BASIC_AUTH" in line]
    assert len(named) == 1 and "Traceback" not in result.stderr, result.stderr


def test_development_flower_uses_a_login_generated_for_this_install(settings, log_dir, tmp_path):
    env = flower_env(settings, FLOWER_BASIC_AUTH="", TOWER_SECRETS_DIR=str(tmp_path))
    process, url = start_flower(env, log_dir / "flower-generated.log")
    try:
        generated = load_settings(env).flower_login()
        user, _, password = generated.partition(":")
        assert requests.get(url, auth=("tower", "tower-dev"), timeout=5).status_code == 401
        assert requests.get(url, auth=(user, password), timeout=5).status_code == 200
    finally:
        process.stop()
    assert (tmp_path / "flower_basic_auth").stat().st_mode & 0o077 == 0
