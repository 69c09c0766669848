"""Interleaving two transactions without fixed sleeps: the first, paused at a chosen point,
goes on once the second is waiting for a lock of the test database, or has finished."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from shared.db import db

WAITING = sa.text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def wait_until_blocked_or_done(second: threading.Thread, *, timeout: float = 30.0) -> None:
    """Return once `second` waits for a lock in Postgres or has ended (within `timeout`).

    :raises TimeoutError: when neither happens.
    """
    deadline = time.monotonic() + timeout
    with db.engine.connect() as connection:
        while time.monotonic() < deadline:
            if finished(second) or connection.scalar(WAITING):
                return
            connection.rollback()  # a fresh snapshot of pg_stat_activity for the next look
            time.sleep(0.01)
    raise TimeoutError("the second transaction neither waited for a lock nor ended")


def run_first_paused(
    first: threading.Thread, second: threading.Thread, paused: threading.Event
) -> None:
    """Start `first`, start `second` once `first` set `paused` (where it then waits, in
    wait_until_blocked_or_done), and wait for both to end."""
    first.start()
    assert paused.wait(30), "the first transaction never reached its pause"
    second.start()
    for thread in (first, second):
        thread.join(60)
        assert not thread.is_alive(), f"{thread.name} is still running"


def finished(thread: threading.Thread) -> bool:
    """Whether `thread` has run and ended (not merely not started yet)."""
    return thread.ident is not None and not thread.is_alive()
