"""The database extension and sessions for code that runs outside Flask requests."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session

# Stable constraint names so Alembic can drop what it created.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Postgres's deadlock_detected and serialization_failure: the transaction lost a race for its
# locks and was rolled back; running it again is safe.
LOST_RACE_CODES = frozenset({"40P01", "40001"})
# Postgres shutting down, restarting or not yet accepting connections (class 08 is the
# connection exceptions); a connection that failed or dropped has no code at all.
OUTAGE_CODES = frozenset({"57P01", "57P02", "57P03"})
# How long a worker's transaction waits for Postgres to come back (a restart, a failover)
# before its error counts: shorter than a stage's lease, which outlives it.
OUTAGE_WAIT_S = 10.0
# A pooled connection back in the pool for less than this is taken as alive; an older one is
# pinged before use. pool_pre_ping pings at every checkout: a round trip more per transaction,
# a third of a status poll's, though a busy process's connections were just used.
PING_IDLE_S = 2.0
AFTER_COMMIT = "tower.after_commit"  # a session's actions waiting for its commit, in its info

T = TypeVar("T")


class Base(DeclarativeBase):
    """Declarative base of every Tower model."""

    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


@contextmanager
def committed(session: Session) -> Iterator[Session]:
    """Commit what the block did in `session`, or roll it back when it raised."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def session_scope() -> Iterator[Session]:
    """A short unit of work: commit on success, roll back on error, always close.

    Needs an app context (workers push one from shared.app for their whole life).
    """
    try:
        with committed(db.session) as session:
            yield session
    finally:
        db.session.remove()


def ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout when it sat in the pool for PING_IDLE_S or more,
    and replace it when the ping fails (SQLAlchemy's pessimistic disconnect handling, skipped
    for a connection just used; a connection lost since then fails its statement, which
    `transaction` and the web's error handler treat as Postgres being away)."""

    @event.listens_for(engine, "checkin")
    def note_checkin(dbapi_connection, record) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_idle(dbapi_connection, record, proxy) -> None:
        if time.monotonic() - record.info.get("checked_in_at", float("-inf")) < PING_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")


def side_engine(key: str, **options: object) -> Engine:
    """An engine of this process's own beside the app's pool (the app's database, `options`
    for create_engine), kept in the current app's extensions under `key` and pinged like the
    pool's connections; a forked child opens its own."""
    held = current_app.extensions.get(key)
    if held is None or held[0] != os.getpid():
        engine = create_engine(db.engine.url, **options)
        ping_when_idle(engine)
        held = current_app.extensions[key] = (os.getpid(), engine)
    return held[1]


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction commits, and forget it if that rolls back:
    for removing files the rows being changed named, which must outlive a rollback."""
    session.info.setdefault(AFTER_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def run_after_commit(session: Session) -> None:
    for action in session.info.pop(AFTER_COMMIT, []):
        action()


@event.listens_for(Session, "after_rollback")
def forget_after_commit(session: Session) -> None:
    session.info.pop(AFTER_COMMIT, None)


def lost_lock_race(exc: BaseException) -> bool:
    """Whether Postgres rolled the transaction back as a deadlock's or a conflict's victim."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "pgcode", None) in LOST_RACE_CODES


def lost_connection(exc: BaseException) -> bool:
    """Whether Postgres could not be reached, or dropped the connection (it is restarting)."""
    if not isinstance(exc, OperationalError):
        return False
    code = getattr(exc.orig, "pgcode", None)
    return code is None or code.startswith("08") or code in OUTAGE_CODES


def transaction(engine: Engine, work: Callable[[Session], T], *, attempts: int = 4) -> T:
    """`work(session)` in a transaction of its own, committed; run again (after a short random
    pause) when Postgres chose it as a deadlock's victim, or, for up to OUTAGE_WAIT_S, when
    Postgres could not be reached or dropped the connection.

    `work` must only change rows: what it did is rolled back before it runs again (a commit
    whose answer the outage cut off may have landed: `work` finds its own rows changed).
    """
    attempt = 1
    outage_ends = time.monotonic() + OUTAGE_WAIT_S
    while True:
        try:
            with Session(engine) as session, session.begin():
                return work(session)
        except DBAPIError as exc:
            if lost_connection(exc) and time.monotonic() < outage_ends:
                time.sleep(random.uniform(0.3, 0.7))
                continue
            if attempt >= attempts or not lost_lock_race(exc):
                raise
        time.sleep(random.uniform(0.05, 0.25) * attempt)
        attempt += 1
