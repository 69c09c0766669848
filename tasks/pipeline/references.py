"""Character reference sheets: a character job's image becomes its character's reference."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from shared.models import Character, Job, JobKind, Status

log = logging.getLogger(__name__)


def link_reference(session: Session, job: Job) -> None:
    """Point a succeeded character job's character at the sheet the job rendered (the newest
    image of its latest succeeded run); other jobs are left alone."""
    if job.kind != JobKind.CHARACTER:
        return
    character = session.get(Character, job.params.get("character_id"))
    done = [r for r in job.stage_runs if r.status == Status.SUCCEEDED]
    done.sort(key=lambda r: r.attempt)
    images = [a for r in done for a in r.assets if a.kind == "image"]
    if character is None or not images:
        return
    character.reference_asset_id = images[-1].id
    log.info("reference linked character_id=%s asset_id=%s", character.id, images[-1].id)
