"""A new pool process builds its context, connects to Postgres with the stage path's statements
compiled, and to its node's ComfyUI, before its first delivery; a database that does not answer
leaves the connecting to that delivery, without an error."""

from __future__ import annotations

import logging
import threading

import pytest
import sqlalchemy as sa

from shared.db import db
from shared.models import WorkerNode
from tasks.context import reset_context, worker_context
from tasks.warmup import warm_process
from tests.factories import make_worker_node
from tests.support.emulator import start_emulator
from tests.support.processes import wait_for

# The rehearsal's reads: the claim, the job, the workflow, the upstream outputs, the nodes and
# their load for placement, the running load, the next stage's inputs and the asset rows (a bare
# connection compiles one or two statements: the settings read).
REHEARSED_STATEMENTS = 8


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


def test_the_stage_paths_statements_are_compiled_before_the_first_delivery(
    pool_process, settings, app
):
    pool_process(settings)  # `app`: the test database is migrated
    engine = worker_context().engine
    wait_for(warmup_ended, 30, interval=0.05, what="the warm-up thread")
    assert len(engine._compiled_cache) >= REHEARSED_STATEMENTS  # SQLAlchemy's statement cache


@pytest.fixture
def registered_node(app, tmp_path_factory):
    """A node row (committed: the warm-up reads on its own connection) serving an emulator."""
    with start_emulator(tmp_path_factory.mktemp("emu-warm")) as emulator:
        with app.app_context():
            make_worker_node(db.session, name="warm-node", comfyui_url=emulator.url)
            db.session.commit()
        try:
            yield emulator
        finally:
            with app.app_context():
                db.session.execute(sa.delete(WorkerNode).where(WorkerNode.name == "warm-node"))
                db.session.commit()


def test_the_nodes_comfyui_is_connected_before_the_first_delivery(
    pool_process, settings, registered_node, caplog
):
    caplog.set_level(logging.INFO, logger="tasks.warmup")
    pool_process(settings.with_overrides(worker_node="warm-node"))
    wait_for(warmup_ended, 30, interval=0.05, what="the warm-up thread")
    assert registered_node.url in worker_context().clients
    assert "could not reach" not in caplog.text


def test_a_database_that_does_not_answer_is_left_to_the_first_delivery(
    pool_process, settings, caplog
):
    caplog.set_level(logging.INFO, logger="tasks.warmup")
    closed = settings.with_overrides(database_url="postgresql://tower@127.0.0.1:9/tower")
    pool_process(closed)
    wait_for(warmup_ended, 30, interval=0.05, what="the warm-up thread")
    assert worker_context().engine.pool.checkedin() == 0
    assert "pool process warm-up skipped" in caplog.text
