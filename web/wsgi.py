"""WSGI entry point for gunicorn (`gunicorn web.wsgi:app`); builds the app at import."""

from __future__ import annotations

import sys

from shared.errors import ConfigError
from web import create_app
from web.green import green_psycopg

green_psycopg()  # gunicorn's gevent worker patched the process before importing this module
try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"tower web: {exc.message}")
