"""The operators' dashboard at /dashboard/: Jinja pages plus static CSS and JS (no build step)."""

from __future__ import annotations

from web.dashboard import models_page, qc_panel  # noqa: F401  (they add to bp)
from web.dashboard.views import bp

__all__ = ["bp"]
