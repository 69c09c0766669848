"""Library: the farm's default stage templates, shipped as data beside this package."""

from __future__ import annotations

import json

from workers.workflows.catalog import DATA_DIR
from workers.workflows.template import Template

STAGES = ("keyframe", "animate", "interpolate", "animate_svd")


def default_templates() -> dict[str, Template]:
    """The built-in template of every stage, keyed by stage name (fresh objects each call)."""
    templates = {}
    for stage in STAGES:
        row = json.loads((DATA_DIR / "templates" / f"{stage}.json").read_text(encoding="utf-8"))
        templates[stage] = Template.from_row(row)
    return templates
