"""Keyset pagination: opaque cursors over (sort key, id), stable under inserts."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import ValidationError
from web.schemas.common import as_utc


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the row whose sort key is `values`."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    """The sort key a cursor holds, typed by `kinds` (datetime or int).

    :raises ValidationError: for a cursor this API did not issue.
    """
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError("wrong length")
        values = [
            sort_moment(v) if k is datetime else k(v) for k, v in zip(kinds, raw, strict=True)
        ]
        if any(isinstance(v, int) and not 0 <= v < 2**63 for v in values):
            raise ValueError("out of range")
        return values
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError) as exc:
        raise ValidationError("the cursor is malformed", fields={"cursor": "malformed"}) from exc


def sort_moment(text: str) -> datetime:
    """A cursor's timestamp; in UTC when it has an offset (Postgres refuses some ISO 8601 does).

    :raises ValueError: when it is not ISO 8601.
    :raises OverflowError: when it is out of range in UTC.
    """
    moment = datetime.fromisoformat(text)
    return as_utc(moment) if moment.tzinfo is not None else moment


def fetch_page(
    stmt: sa.Select,
    columns: list[sa.ColumnElement],
    *,
    descending: bool,
    limit: int,
    cursor: str | None,
    kinds: tuple[type, ...],
) -> dict[str, Any]:
    """One page of `stmt` ordered by `columns` (the last must be unique), plus the next cursor.

    :raises ValidationError: for a malformed cursor.
    """
    if cursor:
        after = sa.tuple_(*columns)
        key = sa.tuple_(*[sa.literal(v) for v in decode_cursor(cursor, kinds)])
        stmt = stmt.where(after < key if descending else after > key)
    order = [c.desc() if descending else c.asc() for c in columns]
    rows = list(db.session.execute(stmt.order_by(*order).limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, c.key) for c in columns])
    return {"items": rows, "next_cursor": next_cursor}
