"""The minimal Flask app (config + database) that workers, the sink and the CLI share."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from shared.config import Settings, load_settings
from shared.db import db, migrate, ping_when_idle

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def create_base_app(settings: Settings | None = None, name: str = "tower") -> Flask:
    """A Flask app bound to the database, with Settings under app.config["SETTINGS"].

    :raises ConfigError: when the settings are unusable (e.g. production without a secret).
    """
    settings = settings or load_settings()
    settings.require_secure()
    app = Flask(name)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.sqlalchemy_url,
    )
    import shared.models  # noqa: F401 - registers every table on the metadata

    db.init_app(app)
    with app.app_context():
        ping_when_idle(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS)
    return app
