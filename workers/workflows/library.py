"""Library: the farm's default stage templates and upload allowlist, shipped as data."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from shared.stages import TEMPLATE_STAGES
from workers.workflows.catalog import DATA_DIR
from workers.workflows.template import Template

# Every template a stage of the registry binds (keyframe, animate, animate_svd, ...).
STAGES = tuple(TEMPLATE_STAGES)


def default_templates() -> dict[str, Template]:
    """The built-in template of every stage, keyed by template name (fresh objects each call)."""
    templates = {}
    for stage in STAGES:
        row = json.loads((DATA_DIR / "templates" / f"{stage}.json").read_text(encoding="utf-8"))
        templates[stage] = Template.from_row(row)
    return templates


@lru_cache(maxsize=1)
def load_allowlist_data() -> dict[str, Any]:
    """The shipped allowlist document (classes, and which output classes save which kind)."""
    return json.loads((DATA_DIR / "allowlist.json").read_text(encoding="utf-8"))


def default_allowlist() -> frozenset[str]:
    """Node classes an uploaded workflow may use unless the operator configures otherwise."""
    return frozenset(load_allowlist_data()["classes"])


def output_kinds() -> dict[str, str | None]:
    """Output node classes and the kind of file each saves (None: temporary previews only)."""
    return dict(load_allowlist_data()["output_classes"])
