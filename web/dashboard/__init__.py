"""The operators' dashboard at /dashboard/: Jinja pages plus static CSS and JS (no build step)."""

from __future__ import annotations

from web.dashboard import models_page  # noqa: F401  (adds its page to bp)
from web.dashboard.views import bp

__all__ = ["bp"]
