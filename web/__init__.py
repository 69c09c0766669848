"""The Tower web app: `flask --app web ...` and gunicorn's `web:create_app()` find the factory."""

from __future__ import annotations

from flask import Flask

from shared.app import create_base_app
from shared.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app: the base app (config + db) plus blueprints and error rendering.

    :raises ConfigError: when the settings are unusable (e.g. production without a secret).
    """
    app = create_base_app(settings, name="web")
    from web.errors import register_error_handlers
    from web.health import bp as health_bp

    register_error_handlers(app)
    app.register_blueprint(health_bp)
    return app
