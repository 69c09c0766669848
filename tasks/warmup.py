"""A new pool process readies what its first delivery would otherwise wait for: its context
(app, engine, store, progress bus), the ORM's mappers, PIL's image plugins, the node catalog
binding checks against, a database connection with the stage path's statements compiled, the
farm settings and a connection to its own ComfyUI. On this kind of machine a cold process added
~150 ms to its first stage, most of it compiling statements and loading the catalog.
"""

from __future__ import annotations

import logging
import mimetypes
import threading

from kombu.exceptions import KombuError
from PIL import Image
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, configure_mappers

from shared.models import Job, StageRun, Workflow
from shared.settings_store import all_settings
from tasks.app import app as celery_app
from tasks.context import WorkerContext, worker_context
from tasks.pipeline.fleet import node_name
from tasks.pipeline.leases import Owner, claim
from tasks.pipeline.recording import upsert_assets
from tasks.pipeline.routing import place, running_load
from tasks.pipeline.stage_rows import backend_url, run_inputs, segment_successes
from workers.comfyui import ComfyUnavailable
from workers.workflows import Requirements
from workers.workflows.catalog import default_catalog

log = logging.getLogger(__name__)

# No stage run, job or workflow has this id: the rehearsal reads nothing and changes nothing.
ABSENT_ID = 0


def warm_process() -> None:
    """Build this process's context here (its app context belongs to this thread, where the
    deliveries run) and connect in the background: a database that does not answer must not
    hold up the pool process's start, which Celery bounds to a few seconds."""
    ctx = worker_context()
    configure_mappers()
    Image.preinit()
    threading.Thread(target=connect_ahead, args=(ctx,), name="tower-warmup", daemon=True).start()


def connect_ahead(ctx: WorkerContext) -> None:
    """Load the node catalog, compile the stage path's statements, read the farm settings and
    connect to this node's ComfyUI; a failure only means the first delivery does it itself, as
    it would have."""
    default_catalog()
    mimetypes.init()  # an upload's content type
    with ctx.app.app_context():
        try:
            with Session(ctx.engine) as session:
                rehearse_stage_reads(session)
                url = backend_url(session, node_name(ctx.settings))
            all_settings()
        except SQLAlchemyError as exc:
            log.info("pool process warm-up skipped: %s", exc)
            return
    connect_broker()
    if url:
        try:
            ctx.client(url).system_stats()
        except ComfyUnavailable as exc:
            log.info("pool process warm-up could not reach %s: %s", url, exc)


def connect_broker() -> None:
    """Open the connections a delivery's end uses: the producer that sends the chain's next
    message and the result backend's."""
    try:
        with celery_app.producer_pool.acquire(block=True, timeout=10) as producer:
            producer.connection.ensure_connection(max_retries=1)
        celery_app.backend.client.ping()
    except (OSError, KombuError, RedisError) as exc:
        log.info("pool process warm-up could not reach the broker: %s", exc)


def rehearse_stage_reads(session: Session) -> None:
    """Run the reads of a stage's claim, placement and record for ids that do not exist, so
    each statement is compiled before the first delivery needs it (a few ms each here)."""
    absent = StageRun(id=ABSENT_ID, job_id=ABSENT_ID, scene_id=ABSENT_ID, attempt=1)
    claim(session, ABSENT_ID, 0, Owner.here("warm-up"))
    session.get(Job, ABSENT_ID)
    session.get(Workflow, ABSENT_ID)
    segment_successes(session, ABSENT_ID, ABSENT_ID, "keyframe")
    place(session, absent, Requirements(), None, "warm-up")
    running_load(session)
    run_inputs(session, ABSENT_ID)
    upsert_assets(session, absent, [])
