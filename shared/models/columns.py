"""Column helpers every model uses: ids and UTC-aware timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy.orm import mapped_column


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


Timestamp = sa.DateTime(timezone=True)
int_pk = Annotated[int, mapped_column(sa.BigInteger, primary_key=True)]
created_at = Annotated[
    datetime, mapped_column(Timestamp, nullable=False, default=utcnow, server_default=sa.func.now())
]
updated_at = Annotated[
    datetime,
    mapped_column(
        Timestamp, nullable=False, default=utcnow, onupdate=utcnow, server_default=sa.func.now()
    ),
]
