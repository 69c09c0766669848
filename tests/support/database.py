"""A throwaway Postgres database per test session, built by the migrations."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from flask_sqlalchemy.session import Session as FlaskSession
from psycopg2 import sql


class BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session, but honouring an explicit `bind`: its get_bind picks the
    engine by table and would otherwise escape the test's transaction."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        """The connection the session was bound to."""
        if self.bind is not None:
            return self.bind
        return super().get_bind(mapper, clause, bind, **kwargs)


def with_database(url: str, name: str) -> str:
    """The same server as `url`, database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def fresh_database_name() -> str:
    """A database name no other test session uses."""
    return f"tower_test_{uuid.uuid4().hex[:10]}"


def _admin_connection(url: str):
    conn = psycopg2.connect(with_database(url, "postgres"))
    conn.autocommit = True
    return conn


def create_database(url: str) -> None:
    """Create the (empty) database named in `url`."""
    name = urlsplit(url).path.lstrip("/")
    conn = _admin_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def drop_database(url: str) -> None:
    """Drop the database named in `url`, disconnecting whoever is still on it."""
    name = urlsplit(url).path.lstrip("/")
    conn = _admin_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()
