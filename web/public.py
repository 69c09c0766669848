"""Public read: callers without an account may read public projects, their episodes and scenes,
and download each episode's latest final cut, while the `public_read` setting allows it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app

from shared.db import db
from shared.errors import AuthenticationError, NotFoundError, ValidationError
from shared.models import Asset, AssetKind, Episode, Job, User
from shared.settings_store import get_setting
from web.identity import current_user, require_user
from web.production import visible_episode
from workers.storage import LocalStore

F = TypeVar("F", bound=Callable[..., Any])
# OpenAPI: these reads take a token or cookie when given, and none for public projects.
OPTIONAL_AUTH = {"security": [{}, {"bearerAuth": []}, {"cookieAuth": []}]}


def reader() -> User | None:
    """The caller (checked as `require_user` checks it), or None for an anonymous caller
    while public read is on.

    :raises AuthenticationError: for an anonymous caller when public read is off.
    """
    if current_user() is not None:
        return require_user()
    if not get_setting("public_read"):
        raise AuthenticationError("authentication required")
    return None


def reads_public(view: F) -> F:
    """Decorate a read: it runs for any caller, anonymous ones seeing public projects only."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        reader()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def latest_final(user: User | None, episode_id: int) -> tuple[Path, str, str]:
    """The file of a readable episode's newest final cut, its MIME type and a download name.

    :raises NotFoundError: when the episode is not readable or has no final cut yet.
    """
    episode: Episode = visible_episode(user, episode_id)
    asset = db.session.scalar(
        sa.select(Asset)
        .join(Job, Asset.job_id == Job.id)
        .where(Job.episode_id == episode.id, Asset.kind == AssetKind.EPISODE.value)
        .order_by(Asset.id.desc())
        .limit(1)
    )
    missing = NotFoundError(f"episode {episode_id} has no final cut yet")
    if asset is None:
        raise missing
    try:
        path = LocalStore(current_app.config["SETTINGS"].artifact_root).path(asset.uri)
    except ValidationError as exc:
        raise missing from exc
    if not path.is_file():
        raise missing
    return path, asset.mime_type, f"episode-{episode.number}{path.suffix}"
