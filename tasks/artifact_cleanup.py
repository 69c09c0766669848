"""Removing superseded outputs: the files of attempts a later attempt of the same stage replaced
(a retake's earlier take, a retried stage's failed try), `superseded_output_days` after that.

Rows go first, in batches, each batch's files only after its delete committed: a crash between
the two leaves a file no row names (harmless), never a row naming a missing file.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import PurePosixPath

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.db import transaction
from shared.models import Asset, Character
from shared.models.columns import utcnow
from shared.settings_store import get_setting
from workers.storage import LocalStore, remove_artifacts

log = logging.getLogger(__name__)

BATCH = 500
# Well inside the task's soft time limit, so a long backlog never stops between a batch's
# commit and its files.
BUDGET_S = 120.0


def delete_superseded_rows(session: Session, cutoff, limit: int) -> list[str]:
    """Delete up to `limit` asset rows superseded before `cutoff` and return their keys.

    A character's reference sheet stays whatever replaced it: the character still shows it.
    Rows another clean-up holds are skipped, so two never remove the same files.
    """
    referenced = sa.exists().where(Character.reference_asset_id == Asset.id)
    batch = (
        sa.select(Asset.id)
        .where(Asset.superseded_at < cutoff, ~referenced)
        .order_by(Asset.superseded_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(sa.delete(Asset).where(Asset.id.in_(batch)).returning(Asset.uri)))


def remove_files(store: LocalStore, keys: list[str]) -> int:
    """Remove the files (or frame folders) of deleted rows, then their attempt folders where
    that left them empty; returns how many were removed."""
    removed = remove_artifacts(store, keys)
    for folder in sorted({str(PurePosixPath(key).parent) for key in removed}):
        store.remove_empty_folder(folder)
    return len(removed)


def clean_superseded(
    engine: Engine, store: LocalStore, *, limit: int = BATCH, budget_s: float = BUDGET_S
) -> int:
    """Remove the outputs superseded longer than the farm keeps them, batch by batch until none
    is left or `budget_s` has passed (the next run goes on); returns how many."""
    days = get_setting("superseded_output_days")
    if days == 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    stop_at = time.monotonic() + budget_s
    removed = 0
    while True:
        keys = transaction(engine, lambda session: delete_superseded_rows(session, cutoff, limit))
        removed += remove_files(store, keys)
        if len(keys) < limit or time.monotonic() > stop_at:
            break
    if removed:
        log.info("superseded outputs removed count=%d (kept %d days)", removed, days)
    return removed
