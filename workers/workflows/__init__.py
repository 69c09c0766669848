"""Workflow templates: stage graphs with named bindings, binding, requirements and uploads.

Pure Python over data: no database, Celery or HTTP. Typical use::

    template = default_templates()["keyframe"]
    prompt = bind(template, {"prompt": "...", "loras": [...]}, output_key="farm/job-1/...")
    lacking = missing_on(requirements(prompt), backend_capabilities)
"""

from __future__ import annotations

from workers.workflows.binding import bind, with_placeholders
from workers.workflows.catalog import Catalog, default_catalog
from workers.workflows.inventory import (
    Capabilities,
    Requirements,
    capabilities_from_object_info,
    missing_on,
    requirements,
)
from workers.workflows.library import STAGES, default_allowlist, default_templates
from workers.workflows.template import Output, Param, Template
from workers.workflows.upload import validate_upload
from workers.workflows.validator import Problem, check_graph

__all__ = [
    "STAGES",
    "Capabilities",
    "Catalog",
    "Output",
    "Param",
    "Problem",
    "Requirements",
    "Template",
    "bind",
    "capabilities_from_object_info",
    "check_graph",
    "default_allowlist",
    "default_catalog",
    "default_templates",
    "missing_on",
    "requirements",
    "validate_upload",
    "with_placeholders",
]
