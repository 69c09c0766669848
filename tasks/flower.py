"""`python -m tasks.flower [flower options]`: Flower on Tower's Celery app, always behind a
login: FLOWER_BASIC_AUTH, or outside production one generated once for this install.

Production refuses to start without FLOWER_BASIC_AUTH, and every environment refuses a
publicly known login, since Flower's control routes can revoke and shut down tasks.
"""

from __future__ import annotations

import sys

from shared.config import load_settings
from shared.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    """Check the login, then run `celery flower` in this process; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        login = load_settings().flower_login()
    except ConfigError as exc:
        sys.stderr.write(f"tower flower: {exc.message}\n")
        return 2
    from tasks.app import app

    # In-process rather than exec'd, so the password never shows in the process list.
    return app.start(["flower", f"--basic-auth={login}", *args]) or 0


if __name__ == "__main__":
    sys.exit(main())
