"""Session-wide real services: a fresh migrated Postgres database, Redis database numbers of
the test run's own, and the Flask app bound to them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask_migrate import upgrade

from shared.config import DEFAULTS, Settings, load_settings, redis_db_url
from shared.settings_catalog import SPECS
from tests.support.database import (
    BoundSession,
    create_database,
    drop_database,
    fresh_database_name,
    with_database,
)

# The test run's own Redis databases, so it never steals a live farm's tasks.
TEST_REDIS_DB, TEST_BROKER_DB, TEST_BACKEND_DB = 13, 14, 15
# What the test session takes from the environment: only where the servers are.
SERVER_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def pytest_configure(config: pytest.Config) -> None:
    """Forget a live farm's settings (its broker, backend, key prefix, secrets, node...) before
    any test module imports the Celery app: the session builds all of them itself, and must
    never send a task to that farm's broker or read its database (nor take its farm settings'
    defaults)."""
    for name in [*DEFAULTS, *(spec.variable for spec in SPECS.values())]:
        if name not in SERVER_VARIABLES:
            os.environ.pop(name, None)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at this session's own database, Redis numbers and artifact folder."""
    base = load_settings()
    name = fresh_database_name()
    database_url = with_database(base.database_url, name)
    create_database(database_url)
    test_settings = base.with_overrides(
        env="test",
        database_url=database_url,
        redis_url=redis_db_url(base.redis_url, TEST_REDIS_DB),
        broker_url=redis_db_url(base.redis_url, TEST_BROKER_DB),
        result_backend=redis_db_url(base.redis_url, TEST_BACKEND_DB),
        # Queues of this session only: another test run on the machine keeps its own.
        broker_key_prefix=f"{name}:",
        artifact_root=tmp_path_factory.mktemp("artifacts"),
    )
    # Progress streams and login counters are keyed by ids that restart with every test
    # database: an earlier run's job 1 must not speak for this run's job 1.
    redis.Redis.from_url(test_settings.redis_url).flushdb()
    try:
        yield test_settings
    finally:
        drop_database(database_url)
        broker = redis.Redis.from_url(test_settings.broker_url)
        for key in broker.scan_iter(match=f"{name}:*", count=500):
            broker.delete(key)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Flask:
    """The web app on the test database, schema built by the migrations (not create_all)."""
    from web import create_app

    application = create_app(settings)
    with application.app_context():
        upgrade()
    return application


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where subprocesses started by tests write their logs."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture
def db_session(app: Flask):
    """A session inside a transaction that is rolled back after the test."""
    from shared.db import db

    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": BoundSession,
            }
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture(scope="session")
def celery_app(settings: Settings):
    """The Tower Celery app, sending to this session's broker."""
    from tasks.app import configure

    return configure(settings)


@pytest.fixture(scope="module")
def celery_worker(settings: Settings, app: Flask, celery_app, log_dir: Path):
    """A real Celery worker process consuming `gpu` (as node `ping-test`, whose ComfyUI never
    answers, so it registers nothing) and `cpu`, for one test module."""
    from tests.support.processes import start_celery_worker

    env = settings.with_overrides(
        worker_node="ping-test", comfyui_url="http://127.0.0.1:9"
    ).as_environ()
    worker = start_celery_worker(env, log_dir, queues="gpu,gpu.ping-test,cpu")
    try:
        reply = celery_app.send_task("tower.ping", queue="cpu").get(timeout=60)
        assert reply["answer"] == "pong", worker.log_text()
        yield worker
    finally:
        worker.stop()
