"""Stored ComfyUI workflows: list, read, upload a version, activate a version."""

from __future__ import annotations

from web import registry
from web.identity import MEMBERS, require_user, requires
from web.openapi import Blueprint
from web.schemas.records import (
    WorkflowDetailSchema,
    WorkflowQuerySchema,
    WorkflowSchema,
    WorkflowUploadSchema,
)

blp = Blueprint(
    "workflows", __name__, url_prefix="/api/anime", description="Versioned workflow templates"
)


@blp.route("/workflows", methods=["GET"])
@requires()
@blp.arguments(WorkflowQuerySchema, location="query")
@blp.response(200, WorkflowSchema(many=True))
def list_workflows(query):
    """Stored workflow versions: the built-ins and your uploads (staff: every workflow)."""
    return registry.list_workflows(require_user(), query)


@blp.route("/workflows/<int:workflow_id>", methods=["GET"])
@requires()
@blp.response(200, WorkflowDetailSchema)
def get_workflow(workflow_id):
    """One workflow version with its graph and bindings (a built-in, yours, or any for staff)."""
    return registry.visible_workflow(require_user(), workflow_id)


@blp.route("/workflows", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(WorkflowUploadSchema)
@blp.response(201, WorkflowDetailSchema)
def upload_workflow(data):
    """Upload an API-format workflow with bindings as the next version of its name."""
    return registry.upload_workflow(require_user(), data)


@blp.route("/workflows/<int:workflow_id>/activate", methods=["POST"])
@requires(*MEMBERS)
@blp.response(200, WorkflowSchema)
def activate_workflow(workflow_id):
    """Make this version the active one for its name."""
    return registry.activate_workflow(require_user(), workflow_id)
