"""The Tower web app: `flask --app web ...` and gunicorn's `web:create_app()` find the factory."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client package under web/ must not pay for the server's imports
    from flask import Flask

    from shared.config import Settings

# Proposed Settings fields; until they exist these defaults apply (tests override app.config).
# What operators change at run time is a farm setting instead (shared/settings_catalog.py).
WEB_DEFAULTS = {
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "TOWER_AUDIO_UPLOAD_MAX_BYTES": 200 * 1024 * 1024,  # the audio library's upload routes
    "TOWER_JWT_TTL_S": 3600,
    "TOWER_SESSION_MAX_AGE_S": 12 * 3600,
    "TOWER_API_TOKEN_MAX_DAYS": 365,
    "TOWER_GUEST_API_TOKEN_MAX_DAYS": 7,
    "TOWER_SSE_STREAMS_PER_USER": 20,  # live event streams open at once, across web workers
    "TOWER_SSE_STREAMS_PER_JOB": 30,
    "TOWER_REDIS_POOL_SIZE": 50,  # connections per Redis pool per web worker process
    "TOWER_REDIS_POOL_TIMEOUT_S": 5.0,  # how long a call waits for a free pooled connection
    "TOWER_HEALTH_TIMEOUT_S": 2.0,
    "TOWER_HEALTH_CACHE_S": 5.0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
}


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app: the base app (config + db) plus blueprints and error rendering.

    :raises ConfigError: when the settings are unusable (e.g. production without a secret).
    """
    from shared.app import create_base_app

    app = create_base_app(settings, name="web")
    from werkzeug.middleware.proxy_fix import ProxyFix

    from tasks.app import configure as configure_celery
    from tasks.cli import library_cli, workflows_cli
    from web.cli import users_cli
    from web.cors import register_cors
    from web.dashboard import bp as dashboard_bp
    from web.docs import bp as docs_bp
    from web.errors import register_error_handlers
    from web.events import bp as events_bp
    from web.headers import register_security_headers
    from web.health import bp as health_bp
    from web.metrics import bp as metrics_bp
    from web.openapi import TowerApi, openapi_config
    from web.request import register_request_checks
    from web.routes import assets, auth, episodes, generation, jobs, projects, users, workflows
    from web.routes import echo as echo_routes
    from web.routes import fleet as fleet_routes
    from web.routes import library as library_routes
    from web.routes import models as models_routes
    from web.routes import productions as production_routes
    from web.routes import settings as settings_routes
    from web.routes.streams import blp as streams_blp
    from web.throttle import init_redis

    app.config.update(WEB_DEFAULTS)
    settings = app.config["SETTINGS"]
    app.config["SESSION_COOKIE_SECURE"] = settings.is_production
    if settings.trusted_proxies:
        # Behind N proxies the client is the address the outermost one saw (throttling,
        # logs) and the scheme is the one it was reached by (secure cookies).
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore
    app.config["TOWER_FLOWER_URL"] = settings.flower_url
    # Jobs go to the broker of these settings (a test session's own, never a live farm's).
    configure_celery(settings)
    app.config.update(openapi_config())
    init_redis(app)
    api = TowerApi(app)
    for module in (auth, users, projects, episodes, generation, jobs, workflows, assets):
        api.register_blueprint(module.blp)
    api.register_blueprint(fleet_routes.blp)
    api.register_blueprint(library_routes.blp)
    api.register_blueprint(models_routes.blp)
    api.register_blueprint(echo_routes.blp)
    api.register_blueprint(production_routes.blp)
    api.register_blueprint(streams_blp)
    api.register_blueprint(settings_routes.blp)
    api.register_blueprint(health_bp)
    register_error_handlers(app)
    register_request_checks(app)
    register_security_headers(app)
    register_cors(app)
    app.register_blueprint(docs_bp)
    app.register_blueprint(events_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(metrics_bp)
    app.cli.add_command(users_cli)
    app.cli.add_command(workflows_cli)
    app.cli.add_command(library_cli)
    return app
