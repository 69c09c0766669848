"""The job page's QC panel: the checks the compiled episode passed or failed."""

from __future__ import annotations

from web.dashboard.views import bp
from web.episode_meta import latest_qc

# job.html calls episode_qc(job) for the latest compile's report.
bp.add_app_template_global(latest_qc, "episode_qc")
