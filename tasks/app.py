"""The Celery app (`celery -A tasks.app ...`): configured from celeryconfig.py at import,
as an entry point must be."""

from __future__ import annotations

import os
import sys

from celery import Celery
from celery.signals import beat_init, worker_init

from shared.config import Settings
from shared.errors import ConfigError

app = Celery(
    "tower",
    include=["tasks.ping", "tasks.render", "tasks.sweeper", "tasks.worker_signals"],
    amqp="tasks.broker:BrokerAMQP",
)
app.config_from_object("celeryconfig")


def configure(settings: Settings) -> Celery:
    """Point the app at the broker and backend of `settings` (tests and the web app's overrides)."""
    options = {**app.conf.broker_transport_options, "global_keyprefix": settings.broker_key_prefix}
    app.conf.update(
        broker_url=settings.broker_url,
        result_backend=settings.result_backend,
        broker_transport_options=options,
    )
    return app


@beat_init.connect
def quiet_beat(**_: object) -> None:
    """Beat sends only housekeeping (the sweep every few seconds): no `task-sent` events from
    it, which Flower would list as tasks forever pending (the sweep sends no worker events
    either)."""
    app.conf.task_send_sent_event = False


@worker_init.connect
@beat_init.connect
def refuse_insecure_worker(**_: object) -> None:
    """Stop a worker or beat whose SECRET_KEY is unusable (known, or in production short),
    with one line."""
    from shared.config import load_settings

    try:
        load_settings().require_secure()
    except ConfigError as exc:
        sys.stderr.write(f"tower worker: {exc.message}\n")
        sys.stderr.flush()
        # os._exit: Celery would turn SystemExit in a signal handler into a traceback.
        os._exit(1)
