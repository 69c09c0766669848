"""WSGI entry point for gunicorn (`gunicorn web.wsgi:app`); builds the app at import."""

from __future__ import annotations

import sys

from shared.errors import ConfigError
from web import create_app

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"tower web: {exc.message}")
