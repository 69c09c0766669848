"""Asset services: who may read an artifact, its metadata, and where its file is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from shared.db import db
from shared.errors import NotFoundError, ValidationError
from shared.models import Asset, Character, Job, Project, User
from web.episode_meta import episode_metadata
from web.identity import is_staff
from web.jobs import asset_url
from web.production import can_read, get_row
from workers.storage import LocalStore


def visible_asset(user: User, asset_id: int) -> Asset:
    """An asset of a job the caller may see, of a readable project, or any for staff.

    :raises NotFoundError: when missing or not visible.
    """
    asset = get_row(Asset, asset_id, "asset")
    if is_staff(user):
        return asset
    project = None
    if asset.job_id is not None:
        job = db.session.get(Job, asset.job_id)
        if job.owner_id == user.id:
            return asset
        project = db.session.get(Project, job.project_id)
    else:
        project = db.session.scalar(
            sa.select(Project)
            .join(Character)
            .where(Character.reference_asset_id == asset.id)
            .limit(1)
        )
    if project is None or not can_read(user, project):
        raise NotFoundError(f"asset {asset_id} not found")
    return asset


def describe_asset(user: User, asset_id: int) -> dict[str, Any]:
    """A visible asset's metadata and download URL.

    :raises NotFoundError: when missing or not visible.
    """
    asset = visible_asset(user, asset_id)
    fields = {
        name: getattr(asset, name)
        for name in (
            "id",
            "kind",
            "mime_type",
            "size_bytes",
            "width",
            "height",
            "frames",
            "fps",
            "duration_s",
            "sha256",
            "job_id",
            "created_at",
            "superseded_at",
        )
    }
    return fields | {"url": asset_url(asset.id)} | episode_metadata(asset)


def asset_file(user: User, asset_id: int) -> tuple[Path, str]:
    """The file behind a visible asset and its MIME type.

    :raises NotFoundError: when missing, not visible, or its file is gone.
    """
    asset = visible_asset(user, asset_id)
    store = LocalStore(current_app.config["SETTINGS"].artifact_root)
    try:
        path = store.path(asset.uri)
    except ValidationError as exc:
        raise NotFoundError(f"asset {asset_id} has no stored content") from exc
    if not path.is_file():
        raise NotFoundError(f"asset {asset_id} has no stored content")
    return path, asset.mime_type
