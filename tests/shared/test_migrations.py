"""The migrations build the whole schema on an empty database, as the models declare it
(tables, columns, indexes, constraints), and take it away again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from shared.app import create_base_app
from shared.db import db
from tests.support.database import (
    create_database,
    drop_database,
    fresh_database_name,
    with_database,
)


def tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def differences(engine) -> list:
    """What autogenerate would write to bring the database to the models."""
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), db.metadata)


def test_upgrade_then_downgrade_base_round_trips(settings):
    url = with_database(settings.database_url, fresh_database_name())
    create_database(url)
    try:
        app = create_base_app(settings.with_overrides(database_url=url))
        with app.app_context():
            upgrade()
            assert tables(db.engine) == set(db.metadata.tables)
            downgrade(revision="base")
            assert tables(db.engine) == set()
            upgrade()
            assert tables(db.engine) == set(db.metadata.tables)
            assert differences(db.engine) == []
            db.engine.dispose()
    finally:
        drop_database(url)
