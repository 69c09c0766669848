"""Workflows in the database: seeding the built-in templates and finding the active version."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.errors import NotFoundError
from shared.models import Workflow
from workers.workflows import Template, default_templates, requirements

log = logging.getLogger(__name__)

# A workflow row never changes once written (an edit is a new version) and Postgres never
# hands out an id twice, so each process reads and parses a stage's template once. Bounded:
# users upload workflows of their own.
TEMPLATES_KEPT = 256
_templates: dict[int, Template] = {}


def row_from_template(name: str, template: Template) -> Workflow:
    """A Workflow row holding `template`, with the node classes and models it needs."""
    row = template.to_row()
    needs = requirements(template.graph)
    return Workflow(
        name=name,
        stage=template.stage,
        version=template.version,
        description=template.description,
        graph=row["graph"],
        bindings=row["bindings"],
        outputs=row["outputs"],
        node_classes=sorted(needs.node_classes),
        models={folder: sorted(names) for folder, names in needs.models.items()},
    )


def template_of(workflow: Workflow) -> Template:
    """The template stored in a Workflow row."""
    return Template.from_row(
        {
            "stage": workflow.stage,
            "version": workflow.version,
            "graph": workflow.graph,
            "bindings": workflow.bindings,
            "outputs": workflow.outputs,
        }
    )


def template_by_id(session: Session, workflow_id: int) -> Template:
    """The template of the workflow row `workflow_id`, read from the database once per
    process (the row, graph and all, is a query and a parse each GPU stage spared)."""
    template = _templates.get(workflow_id)
    if template is None:
        template = template_of(session.get(Workflow, workflow_id))
        if len(_templates) >= TEMPLATES_KEPT:
            _templates.pop(next(iter(_templates)))
        _templates[workflow_id] = template
    return template


def seed_default_workflows(session: Session) -> list[Workflow]:
    """Insert each built-in template version that is missing; activate it if its name has no
    active version. Idempotent; returns the rows it added."""
    added = []
    for name, template in default_templates().items():
        exists = session.scalar(
            sa.select(Workflow.id).where(
                Workflow.name == name, Workflow.version == template.version
            )
        )
        if exists:
            continue
        row = row_from_template(name, template)
        row.is_active = not session.scalar(
            sa.select(Workflow.id).where(Workflow.name == name, Workflow.is_active)
        )
        session.add(row)
        added.append(row)
    session.flush()
    for row in added:
        log.info(
            "seeded workflow name=%s version=%s active=%s", row.name, row.version, row.is_active
        )
    return added


def active_workflow(session: Session, name: str, version: int | None = None) -> Workflow:
    """The active version of a named workflow, or a given version.

    :raises NotFoundError: when no such workflow is stored.
    """
    query = sa.select(Workflow).where(Workflow.name == name)
    query = query.where(Workflow.version == version) if version else query.where(Workflow.is_active)
    workflow = session.scalar(query)
    if workflow is None:
        wanted = f"version {version}" if version else "an active version"
        raise NotFoundError(
            f"workflow {name!r} has no {wanted} (run `flask workflows seed` for the built-ins)",
            fields={"workflows": name},
        )
    return workflow
