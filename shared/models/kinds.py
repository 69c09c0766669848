"""The database's stage and workflow-template names, kept in step with the stage registry."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from shared.models.render import stage_kinds, workflow_kinds
from shared.stages import STAGE_NAMES, TEMPLATE_STAGES


def sync_stage_kinds(connection: sa.Connection) -> None:
    """Add the registry's stage and template names the database lacks (a name is never removed:
    old rows keep naming it)."""
    connection.execute(
        insert(stage_kinds).values([{"name": n} for n in STAGE_NAMES]).on_conflict_do_nothing()
    )
    connection.execute(
        insert(workflow_kinds)
        .values([{"name": t, "stage": s} for t, s in TEMPLATE_STAGES.items()])
        .on_conflict_do_nothing()
    )
