"""The database extension and sessions for code that runs outside Flask requests."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
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


def lost_lock_race(exc: BaseException) -> bool:
    """Whether Postgres rolled the transaction back as a deadlock's or a conflict's victim."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "pgcode", None) in LOST_RACE_CODES


def transaction(engine: Engine, work: Callable[[Session], T], *, attempts: int = 4) -> T:
    """`work(session)` in a transaction of its own, committed; run again (after a short random
    pause) when Postgres chose it as a deadlock's victim.

    `work` must only change rows: what it did is rolled back before it runs again.
    """
    attempt = 1
    while True:
        try:
            with Session(engine) as session, session.begin():
                return work(session)
        except DBAPIError as exc:
            if attempt >= attempts or not lost_lock_race(exc):
                raise
        time.sleep(random.uniform(0.05, 0.25) * attempt)
        attempt += 1
