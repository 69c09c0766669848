"""Liveness tasks: prove a worker consumes a queue end to end."""

from __future__ import annotations

import time

from tasks.app import app


@app.task(name="tower.ping", bind=True, soft_time_limit=10, time_limit=20)
def ping(self) -> dict[str, str]:
    """Answer 'pong' with the queue the message came from and the worker that took it."""
    delivery = self.request.delivery_info or {}
    return {
        "answer": "pong",
        "queue": delivery.get("routing_key", ""),
        "worker": self.request.hostname or "",
        "at": time.time(),
    }
