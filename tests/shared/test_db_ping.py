"""Pooled connections are pinged only after sitting idle: one that Postgres dropped while it sat
in the pool is replaced at checkout, and one just used costs no round trip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shared import db as shared_db
from shared.db import lost_connection, ping_when_idle


@pytest.fixture
def engine(settings) -> Iterator[sa.Engine]:
    """An engine of one pooled connection, pinged as the farm's are."""
    engine = sa.create_engine(settings.sqlalchemy_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine)
    yield engine
    engine.dispose()


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT pg_backend_pid()"))


def terminate(settings, pid: int) -> None:
    """Drop one server connection, as a Postgres restart drops them all."""
    other = sa.create_engine(settings.sqlalchemy_url, poolclass=sa.pool.NullPool)
    with other.connect() as connection:
        assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def test_an_idle_connection_postgres_dropped_is_replaced_at_checkout(engine, settings, monkeypatch):
    dropped = backend_pid(engine)
    terminate(settings, dropped)
    monkeypatch.setattr(shared_db, "PING_IDLE_S", 0.0)  # it sat idle long enough
    assert backend_pid(engine) != dropped


def test_a_connection_just_used_is_not_pinged(engine, settings, monkeypatch):
    dropped = backend_pid(engine)
    terminate(settings, dropped)
    monkeypatch.setattr(shared_db, "PING_IDLE_S", 3600.0)  # it was used a moment ago
    with pytest.raises(sa.exc.OperationalError) as failure:
        backend_pid(engine)
    assert lost_connection(failure.value)  # what `transaction` and the web retry or 503
    assert backend_pid(engine) != dropped  # the pool let the dead connection go
