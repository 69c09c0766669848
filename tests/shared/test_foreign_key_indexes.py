"""Every foreign key into a table the farm deletes from has an index leading with its columns:
Postgres checks (or cascades to) the referencing rows of each deleted row, and without an index
that is a scan of the referencing table per row (an episode's delete scanning every job)."""

from __future__ import annotations

import sqlalchemy as sa

import shared.models  # noqa: F401  (registers every table on the metadata)
from shared.db import db

# Rows here are never deleted: accounts are deactivated, workflow versions kept, and the stage
# lists are fixed; keys into them need no index for deletes.
NEVER_DELETED = {"users", "workflows", "stage_kinds", "workflow_kinds"}


def leading_column_lists(table: sa.Table) -> list[list[str]]:
    """The column lists an index on `table` can be searched by: its indexes and its primary and
    unique keys."""
    keys = [
        constraint
        for constraint in table.constraints
        if isinstance(constraint, sa.PrimaryKeyConstraint | sa.UniqueConstraint)
    ]
    return [[column.name for column in key.columns] for key in [*table.indexes, *keys]]


def unindexed_foreign_keys() -> list[str]:
    found = []
    for table in db.metadata.sorted_tables:
        leads = leading_column_lists(table)
        for key in table.foreign_key_constraints:
            if key.referred_table.name in NEVER_DELETED:
                continue
            columns = [column.name for column in key.columns]
            if not any(lead[: len(columns)] == columns for lead in leads):
                found.append(f"{table.name}({', '.join(columns)})")
    return found


def test_foreign_keys_into_deleted_tables_are_indexed():
    assert unindexed_foreign_keys() == []
