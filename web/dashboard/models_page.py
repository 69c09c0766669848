"""The dashboard's Models page: what the online nodes have, and characters whose LoRA none has."""

from __future__ import annotations

from flask import render_template

from web.dashboard.views import bp
from web.model_files import characters_missing_loras, list_models


@bp.get("/models")
def models() -> str:
    """Checkpoints, LoRAs, motion modules and interpolation models per node, and warnings."""
    return render_template(
        "dashboard/models.html", models=list_models(), missing=characters_missing_loras()
    )
