"""A prepared query is PREPAREd once per connection and run by name, across transactions,
rollbacks and new connections, with its parameters in place."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.prepared import PreparedQuery

SUM = PreparedQuery(
    "tower_test_sum",
    (("a", "bigint"), ("ab", "bigint")),
    "SELECT :a::bigint + 1 AS a_plus_one, :ab AS ab, :a * :ab AS product",
)


@pytest.fixture
def engine(settings) -> Iterator[sa.Engine]:
    """An engine of one pooled connection."""
    engine = sa.create_engine(settings.sqlalchemy_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def prepared_here(session: Session) -> list[str]:
    return list(
        session.scalars(
            sa.text("SELECT name FROM pg_prepared_statements WHERE name LIKE 'tower_%'")
        )
    )


def test_it_is_prepared_once_and_run_with_its_parameters(engine):
    with Session(engine) as session:
        assert SUM.execute(session.connection(), {"a": 2, "ab": 5}).one() == (3, 5, 10)
        session.commit()
        assert SUM.execute(session.connection(), {"a": 4, "ab": 6}).one() == (5, 6, 24)
        assert prepared_here(session) == ["tower_test_sum"]


def test_a_rollback_keeps_it_prepared(engine):
    with Session(engine) as session:
        SUM.execute(session.connection(), {"a": 1, "ab": 1})
        session.rollback()
        assert SUM.execute(session.connection(), {"a": 7, "ab": 1}).one().a_plus_one == 8


def test_a_new_connection_prepares_it_again(engine, settings):
    with Session(engine) as session:
        SUM.execute(session.connection(), {"a": 1, "ab": 1})
        pid = session.scalar(sa.text("SELECT pg_backend_pid()"))
    engine.dispose()  # the pool's connection closed: the server forgets what it prepared
    with Session(engine) as session:
        assert session.scalar(sa.text("SELECT pg_backend_pid()")) != pid
        assert SUM.execute(session.connection(), {"a": 1, "ab": 2}).one().product == 2
