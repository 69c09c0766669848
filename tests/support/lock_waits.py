"""Interleaving two transactions without fixed sleeps: the first, paused at a chosen point,
goes on once the second is waiting for a lock of the test database, or has finished."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

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


def run_twice_paused_in(
    monkeypatch, owner: object, name: str, call: Callable[[], Any]
) -> list[Any]:
    """`call()` in two threads at once, the first paused when it reaches `owner.name` (patched
    through `monkeypatch`) until the second waits for a lock or has ended; both results, the
    first's then the second's."""
    results: list[Any] = [None, None]
    paused = threading.Event()
    threads: list[threading.Thread] = []
    original = getattr(owner, name)

    def pausing(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threads[0]:
            paused.set()
            wait_until_blocked_or_done(threads[1])
        return original(*args, **kwargs)

    def run(index: int) -> None:
        results[index] = call()

    monkeypatch.setattr(owner, name, pausing)
    threads.extend(threading.Thread(target=run, args=(i,)) for i in (0, 1))
    run_first_paused(*threads, paused)
    return results
