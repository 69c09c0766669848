"""A deleted project's files: which artifacts its jobs wrote, removed once the rows are gone.

The clean-up follows asset rows, and deleting a project deletes those rows (through its jobs),
so the files are listed before the delete and removed only after it committed.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app

from shared.db import db
from shared.models import Asset, Job
from tasks.pipeline.stage_rows import job_folder
from workers.storage import LocalStore, remove_artifacts

log = logging.getLogger(__name__)


def project_artifacts(project_id: int) -> list[str]:
    """Artifact keys of a project's jobs: each job's folder and every asset file they own."""
    job_ids = db.session.scalars(sa.select(Job.id).where(Job.project_id == project_id)).all()
    uris = db.session.scalars(
        sa.select(Asset.uri).join(Job, Asset.job_id == Job.id).where(Job.project_id == project_id)
    ).all()
    return sorted({*(job_folder(job_id) for job_id in job_ids), *uris})


def remove_project_artifacts(keys: list[str]) -> None:
    """Delete a deleted project's artifacts from the store (after its rows' delete committed)."""
    store = LocalStore(current_app.config["SETTINGS"].artifact_root)
    removed = remove_artifacts(store, keys)
    log.info("artifacts removed count=%d of %d", len(removed), len(keys))
