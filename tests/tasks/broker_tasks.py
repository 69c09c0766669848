"""A task for the broker-loss test, included into a real worker with `--include`: it holds a
worker slot, unacknowledged, until the test lets it go."""

from __future__ import annotations

import time
from pathlib import Path

from tasks.app import app

HOLD_LIMIT_S = 120


@app.task(name="tests.hold", acks_late=True, soft_time_limit=HOLD_LIMIT_S + 10)
def hold(started: str, release: str) -> None:
    """Say it started, then wait until `release` exists."""
    Path(started).touch()
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
