"""Worker lifecycle: fresh connections in each pool process, GPU node registration and
heartbeat in the worker's main process."""

from __future__ import annotations

import logging
import os
import sys
import threading

from celery.signals import celeryd_after_setup, worker_process_init, worker_ready, worker_shutdown

from shared.app import create_base_app
from shared.config import load_settings
from shared.db import db
from shared.settings_store import get_setting
from tasks.context import reset_context
from tasks.pipeline.fleet import HEARTBEAT_EVERY_S, NodeKeeper, node_name
from tasks.warmup import warm_process

log = logging.getLogger(__name__)

_queues: list[str] = []
_stop = threading.Event()


@worker_process_init.connect
def fresh_process(**_: object) -> None:
    """A forked pool process builds its own context and connections (never the parent's),
    before its first delivery."""
    reset_context()
    warm_process()


@celeryd_after_setup.connect
def remember_queues(sender: str, instance, **_: object) -> None:
    """Note which queues this worker consumes; a GPU worker (on `gpu`) must also consume its
    node's own queue, where routing sends its stages, or it does not start."""
    _queues[:] = sorted(instance.app.amqp.queues.consume_from)
    if "gpu" not in _queues:
        return
    name = node_name(load_settings())
    if f"gpu.{name}" not in _queues:
        sys.stderr.write(
            f"tower worker: node {name!r} would register, but this worker does not "
            f"consume its queue gpu.{name} (it consumes {', '.join(_queues)}); "
            f"add gpu.{name} to -Q or set WORKER_NODE to the node its queue names\n"
        )
        sys.stderr.flush()
        # os._exit: Celery would turn SystemExit in a signal handler into a traceback.
        os._exit(1)


@worker_ready.connect
def register_gpu_node(**_: object) -> None:
    """A GPU worker keeps its node's row while it lives (NodeKeeper: registration, heartbeat,
    registering again every `node_refresh_s` and after a silence)."""
    if "gpu" not in _queues:
        return
    settings = load_settings()
    app = create_base_app(settings)
    with app.app_context():
        engine = db.engine

    def refresh_s() -> float:
        with app.app_context():
            return get_setting("node_refresh_s")

    keeper = NodeKeeper(engine, settings, _queues, refresh_s)

    def loop() -> None:
        while True:
            try:
                keeper.tick()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                log.warning("node %s: registration/heartbeat failed: %s", keeper.name, exc)
            if _stop.wait(HEARTBEAT_EVERY_S):
                return

    threading.Thread(target=loop, name="node-heartbeat", daemon=True).start()


@worker_shutdown.connect
def stop_heartbeat(**_: object) -> None:
    """Stop heartbeating; the node goes offline unless another worker serves it."""
    _stop.set()
