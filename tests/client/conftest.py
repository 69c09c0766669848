"""A live farm for the CLI tests: gunicorn serving the web app, two emulated GPU nodes with a
worker each, a CPU worker, and an operator account, all on this session's database and Redis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from shared.config import Settings, redis_db_url
from shared.db import db
from tests.client.cli_runner import run_tower
from tests.support.farm import Farm, running_farm
from tests.support.processes import REPO, Process
from tests.support.web_server import start_gunicorn

EMAIL = "cli-operator@example.com"
PASSWORD = "cli-operator-password"
# Redis databases of these tests alone: test sessions running at once on one machine share
# 13-15, and a worker of another session would take this farm's tasks.
CLI_REDIS_DB, CLI_BROKER_DB, CLI_BACKEND_DB = 10, 11, 12
DEMO = REPO / "scripts" / "demo_production.yaml"
TABLES = (
    "assets",
    "stage_runs",
    "jobs",
    "scene_characters",
    "scenes",
    "episodes",
    "characters",
    "projects",
    "users",
    "worker_nodes",
    "library_entries",
)


@dataclass
class LiveFarm:
    """Where the web app answers, the operator's credentials and the farm's processes."""

    url: str
    email: str
    password: str
    farm: Farm
    web: Process

    def logs(self) -> str:
        """Worker and web logs, for failure messages."""
        return f"{self.farm.logs()}\n== web\n{self.web.log_text()[-3000:]}"


def prepare_rows(app: Flask, settings: Settings) -> None:
    """Built-in workflows, the demo audio library and the operator account, committed."""
    from tasks.pipeline.library_store import add_demo_library
    from tasks.pipeline.workflow_store import seed_default_workflows
    from web.accounts import create_user
    from workers.storage import LocalStore

    with app.app_context():
        seed_default_workflows(db.session)
        add_demo_library(db.session, LocalStore(settings.artifact_root))
        db.session.commit()
        create_user(EMAIL, PASSWORD, "operator")
        db.session.commit()


@pytest.fixture(scope="package")
def live(settings: Settings, app: Flask, log_dir: Path, tmp_path_factory) -> Iterator[LiveFarm]:
    """The whole farm the CLI talks to; its rows are truncated afterwards."""
    settings = settings.with_overrides(
        redis_url=redis_db_url(settings.redis_url, CLI_REDIS_DB),
        broker_url=redis_db_url(settings.redis_url, CLI_BROKER_DB),
        result_backend=redis_db_url(settings.redis_url, CLI_BACKEND_DB),
    )
    # Job and stage ids restart with each truncation: old keys and messages must not leak in.
    for url in (settings.redis_url, settings.broker_url, settings.result_backend):
        redis.Redis.from_url(url).flushdb()
    prepare_rows(app, settings)
    web, url = start_gunicorn(settings.as_environ(), log_dir / "gunicorn-cli.log")
    root = tmp_path_factory.mktemp("cli-farm")
    try:
        with running_farm(settings, log_dir, root, nodes=("gpu-a", "gpu-b"), beat=False) as farm:
            yield LiveFarm(url, EMAIL, PASSWORD, farm, web)
    finally:
        web.stop()
        with app.app_context():
            db.session.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
            db.session.commit()


@pytest.fixture(scope="package")
def config(live, tmp_path_factory) -> Path:
    """A config file holding the operator's token after `tower login`."""
    path = tmp_path_factory.mktemp("tower") / "cli.json"
    result = run_tower(
        "--url", live.url, "login", "--email", live.email, "--password", live.password, config=path
    )
    assert result.code == 0, result
    assert f"as {live.email} (operator)" in result.stdout
    return path


@pytest.fixture(scope="package")
def finished_job(live, config) -> int:
    """The demo production submitted with --watch, followed to its end."""
    result = run_tower("submit", str(DEMO), "--watch", config=config, timeout=240)
    assert result.code == 0, f"{result}\n{live.logs()}"
    job_id = int(re.search(r"^submitted job (\d+):", result.stdout, re.M).group(1))
    assert f"job {job_id} succeeded" in result.stdout
    # Without a terminal the watch writes a line per stage state: every stage got to the end.
    for stage in ("keyframe", "animate", "interpolate"):
        for scene in range(1, 5):
            assert re.search(rf"scene {scene} {stage} +succeeded", result.stderr), result
    assert re.search(r"episode mix +succeeded", result.stderr), result
    assert "Traceback" not in result.stderr
    return job_id
