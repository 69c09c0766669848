"""A new pool process readies what its first delivery would otherwise wait for: its context
(app, engine, store, progress bus), the ORM's mappers, PIL's image plugins, a database
connection and the farm settings. On this kind of machine a cold process added ~150 ms to
its first stage.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from PIL import Image
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers

from shared.settings_store import all_settings
from tasks.context import WorkerContext, worker_context

log = logging.getLogger(__name__)


def warm_process() -> None:
    """Build this process's context here (its app context belongs to this thread, where the
    deliveries run) and connect in the background: a database that does not answer must not
    hold up the pool process's start, which Celery bounds to a few seconds."""
    ctx = worker_context()
    configure_mappers()
    Image.preinit()
    threading.Thread(target=connect_ahead, args=(ctx,), name="tower-warmup", daemon=True).start()


def connect_ahead(ctx: WorkerContext) -> None:
    """Open a pooled database connection and read the farm settings; a failure only means
    the first delivery connects itself, as it would have."""
    with ctx.app.app_context():
        try:
            with ctx.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            all_settings()
        except SQLAlchemyError as exc:
            log.info("pool process warm-up skipped: %s", exc)
