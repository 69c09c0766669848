"""Counting the SQL a piece of code runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def statements_run(bind) -> Iterator[list[str]]:
    """The SQL statements run on `bind` (an Engine or a Connection) inside the block."""
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(bind, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        sa.event.remove(bind, "before_cursor_execute", note)
