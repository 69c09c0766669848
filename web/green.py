"""Cooperative Postgres under gevent: psycopg2 waits in C and would block a whole gevent worker
(every request it serves) for each query; psycogreen makes it yield to other greenlets."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def green_psycopg() -> bool:
    """Make psycopg2 yield to gevent when gevent has patched this process; whether it did."""
    try:
        from gevent import monkey
    except ImportError:  # gevent is optional for the web app (gthread, flask run)
        return False
    if not monkey.is_module_patched("socket"):
        return False
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()
    log.debug("psycopg2 made cooperative for gevent")
    return True
