"""A new pool process builds its context and connects to Postgres before its first delivery;
a database that does not answer leaves the connecting to that delivery, without an error."""

from __future__ import annotations

import logging
import threading

import pytest

from tasks.context import reset_context, worker_context
from tasks.warmup import warm_process
from tests.support.processes import wait_for


@pytest.fixture
def pool_process(monkeypatch):
    """This process posing as a fresh pool process with the given settings."""

    def start(settings) -> None:
        for name, value in settings.as_environ().items():
            monkeypatch.setenv(name, value)
        reset_context()
        warm_process()

    yield start
    wait_for(warmup_ended, 30, interval=0.05, what="the warm-up thread")
    worker_context().engine.dispose()
    reset_context()


def warmup_ended() -> bool:
    return not any(t.name == "tower-warmup" for t in threading.enumerate())


def test_the_database_connection_is_open_before_the_first_delivery(pool_process, settings):
    pool_process(settings)
    engine = worker_context().engine
    wait_for(warmup_ended, 30, interval=0.05, what="the warm-up thread")
    assert engine.pool.checkedin() == 1


def test_a_database_that_does_not_answer_is_left_to_the_first_delivery(
    pool_process, settings, caplog
):
    caplog.set_level(logging.INFO, logger="tasks.warmup")
    closed = settings.with_overrides(database_url="postgresql://tower@127.0.0.1:9/tower")
    pool_process(closed)
    wait_for(warmup_ended, 30, interval=0.05, what="the warm-up thread")
    assert worker_context().engine.pool.checkedin() == 0
    assert "pool process warm-up skipped" in caplog.text
