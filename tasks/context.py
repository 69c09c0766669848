"""What a worker process keeps for its whole life: settings, the app, the artifact store, the
progress bus, and one ComfyUI client per backend (each with this process's client id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy.engine import Engine

from shared.app import create_base_app
from shared.config import Settings, load_settings
from shared.db import db
from shared.progress import ProgressBus
from workers.comfyui import ComfyClient
from workers.storage import LocalStore


@dataclass
class WorkerContext:
    """Per-process resources of a Celery worker child."""

    settings: Settings
    app: Flask
    store: LocalStore
    bus: ProgressBus
    client_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    clients: dict[str, ComfyClient] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        """The database engine of this process."""
        with self.app.app_context():
            return db.engine

    def client(self, url: str) -> ComfyClient:
        """The one ComfyUI client of this process for a backend URL."""
        if url not in self.clients:
            self.clients[url] = ComfyClient(url)
        return self.clients[url]

    def close(self) -> None:
        """Close sockets and connections (process exit)."""
        for client in self.clients.values():
            client.close()
        self.clients.clear()


_context: WorkerContext | None = None


def worker_context() -> WorkerContext:
    """This process's context, built on first use (after the fork, never in the parent)."""
    global _context
    if _context is None:
        settings = load_settings()
        app = create_base_app(settings)
        app.app_context().push()  # workers use db.session outside requests for their life
        _context = WorkerContext(
            settings=settings,
            app=app,
            store=LocalStore(settings.artifact_root),
            bus=ProgressBus.from_url(settings.redis_url),
        )
    return _context


def reset_context() -> None:
    """Forget the context (after a fork, the child must build its own connections)."""
    global _context
    _context = None
