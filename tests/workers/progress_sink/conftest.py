"""Fixtures of the sink tests: the progress Redis database, committed jobs, a sink process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from shared.config import Settings
from shared.progress import ProgressBus
from tests.support.processes import Process
from tests.workers.progress_sink.harness import (
    create_job,
    delete_job,
    flushed_client,
    migrated_base_app,
    progress_settings,
    start_sink,
)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Flask:
    """The base app (config + db) on the session database, migrated; no web blueprints."""
    return migrated_base_app(settings)


@pytest.fixture
def psettings(settings: Settings, app: Flask) -> Settings:
    """Session settings on the progress Redis database (schema migrated by `app`)."""
    return progress_settings(settings)


@pytest.fixture
def client(psettings: Settings) -> Iterator[redis.Redis]:
    """A real client of the progress Redis database, emptied before the test."""
    conn = flushed_client(psettings)
    yield conn
    conn.close()


@pytest.fixture
def bus(client: redis.Redis) -> ProgressBus:
    """The bus the pipeline would use."""
    return ProgressBus(client)


@pytest.fixture
def make_job(app) -> Iterator[Callable[..., tuple[int, list[int]]]]:
    """Commit jobs with stage runs; they are deleted after the test."""
    made: list[int] = []

    def make(stages: list[dict[str, Any]]) -> tuple[int, list[int]]:
        job_id, ids = create_job(app, stages)
        made.append(job_id)
        return job_id, ids

    yield make
    for job_id in made:
        delete_job(app, job_id)


@pytest.fixture
def sinks(psettings: Settings, log_dir: Path) -> Iterator[Callable[..., Process]]:
    """Start sink subprocesses; all are stopped after the test."""
    started: list[Process] = []

    def start(**kwargs: Any) -> Process:
        process = start_sink(psettings, log_dir, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
