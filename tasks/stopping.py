"""Stopping a cancelled job's work: revoke its queued messages and take its prompts off their
backends, by id, after the cancel committed (the rows changed in tasks.pipeline.control)."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from shared.db import db
from shared.models import StageRun, Status, WorkerNode
from shared.progress import ProgressBus
from tasks.app import app
from workers.comfyui import ComfyClient, ComfyUnavailable
from workers.comfyui.errors import ComfyProtocolError

log = logging.getLogger(__name__)

CANCEL_DEADLINE_S = 15.0


def stop_job(job_id: int) -> dict[str, str]:
    """Revoke the job's queued tasks and stop its prompts on their backends, by prompt id.

    Never kills worker processes; returns how each running prompt ended.
    """
    with Session(db.engine) as session:
        runs = session.scalars(sa.select(StageRun).where(StageRun.job_id == job_id)).all()
        task_ids = [r.celery_task_id for r in runs if r.celery_task_id]
        prompts = [
            (r.prompt_id, r.backend)
            for r in runs
            if r.prompt_id and r.backend and r.status == Status.RUNNING
        ]
        urls = dict(session.execute(sa.select(WorkerNode.name, WorkerNode.comfyui_url)).all())
    if task_ids:
        app.control.revoke(task_ids)
    endings = {}
    for prompt_id, backend in prompts:
        endings[prompt_id] = cancel_prompt(urls.get(backend), prompt_id)
    redis_url = current_app.config["SETTINGS"].redis_url
    ProgressBus.shared(redis_url).job_event(job_id, status="cancelled")
    log.info("stopped job_id=%s revoked=%d prompts=%s", job_id, len(task_ids), endings)
    return endings


def cancel_prompt(url: str | None, prompt_id: str) -> str:
    """Remove or interrupt one prompt on its backend; how it ended, or why it could not."""
    if not url:
        return "backend unknown"
    try:
        with ComfyClient(url, timeout=(2.0, 10.0)) as client:
            return client.cancel(
                prompt_id,
                client_id=f"tower-cancel-{prompt_id[:8]}",
                deadline=time.monotonic() + CANCEL_DEADLINE_S,
            )
    except (ComfyUnavailable, ComfyProtocolError) as exc:
        log.warning("could not cancel prompt_id=%s on %s: %s", prompt_id, url, exc)
        return "unreachable"
