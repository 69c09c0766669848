"""Workflow registry services: list stored versions, upload a new one, activate a version.

Users see the built-in workflows and their own uploads; staff see every workflow.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import ConflictError, NotFoundError, PermissionDeniedError
from shared.models import Role, User, Workflow
from shared.settings_store import get_setting
from web.identity import is_staff
from web.production import get_row
from workers.workflows import validate_upload

log = logging.getLogger(__name__)
MAX_VERSIONS = 50  # per workflow name
# Advisory lock class of a workflow name (with hashtext(name)); see lock_name.
NAME_LOCK = 0x70E5F1


def list_workflows(user: User, filters: dict[str, Any]) -> list[Workflow]:
    """The workflow versions the caller may see, by name then version."""
    stmt = visible_to(user, sa.select(Workflow))
    if filters.get("stage"):
        stmt = stmt.where(Workflow.stage == filters["stage"])
    if filters.get("name"):
        stmt = stmt.where(Workflow.name == filters["name"])
    if filters.get("active") is not None:
        stmt = stmt.where(Workflow.is_active == filters["active"])
    return list(db.session.scalars(stmt.order_by(Workflow.name, Workflow.version).limit(500)))


def visible_to(user: User, stmt: sa.Select) -> sa.Select:
    """Limit a workflow query to what the caller may see: staff everything, everyone else the
    built-ins (no owner) and their own uploads."""
    if is_staff(user):
        return stmt
    return stmt.where(sa.or_(Workflow.owner_id.is_(None), Workflow.owner_id == user.id))


def visible_workflow(user: User, workflow_id: int) -> Workflow:
    """A workflow version the caller may see.

    :raises NotFoundError: when it is missing or another account's upload.
    """
    row = get_row(Workflow, workflow_id, "workflow")
    if not is_staff(user) and row.owner_id not in (None, user.id):
        raise NotFoundError(f"workflow {workflow_id} not found")
    return row


def check_name_rights(user: User, name: str) -> list[Workflow]:
    """The versions stored under `name`, if the caller may add to or switch them; the name
    stays locked until the transaction ends.

    :raises PermissionDeniedError: when the name is a built-in or another account's.
    """
    lock_name(name)
    # Rows read before the lock (the version being activated) may be stale: read them again.
    query = sa.select(Workflow).where(Workflow.name == name)
    versions = list(db.session.scalars(query.execution_options(populate_existing=True)))
    if not is_staff(user) and any(w.owner_id != user.id for w in versions):
        raise PermissionDeniedError(f"workflow {name!r} belongs to someone else")
    return versions


def lock_name(name: str) -> None:
    """Hold a workflow name for this transaction, so that simultaneous uploads and activations
    of it take turns: each counts and numbers the versions the one before committed (else
    both took the same next version, and one was refused with no field named)."""
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(NAME_LOCK, sa.func.hashtext(name))))


def upload_workflow(user: User, data: dict[str, Any]) -> Workflow:
    """Validate an uploaded graph and store it as the next version of its name.

    :raises ValidationError: when the graph or bindings are rejected (fields name each problem).
    :raises PermissionDeniedError: when the name is not the caller's.
    :raises ConflictError: when the name already serves another stage or has its most versions.
    """
    from tasks.pipeline.workflow_store import row_from_template

    if user.role == Role.GUEST.value:
        raise PermissionDeniedError("guests may not upload workflows")
    versions = check_name_rights(user, data["name"])
    if any(w.stage != data["stage"] for w in versions):
        raise ConflictError(
            f"workflow {data['name']!r} serves another stage",
            fields={"stage": "differs from the name's earlier versions"},
        )
    if len(versions) >= MAX_VERSIONS:
        raise ConflictError(
            f"workflow {data['name']!r} has {len(versions)} versions, the most kept per name; "
            "upload under a new name",
            fields={"name": f"at most {MAX_VERSIONS} versions"},
        )
    version = 1 + max((w.version for w in versions), default=0)
    template = validate_upload(
        data["graph"],
        data["bindings"],
        allowlist=frozenset(get_setting("workflow_node_allowlist")),
        stage=data["stage"],
        version=version,
        outputs=data["outputs"],
        description=data["description"],
    )
    row = row_from_template(data["name"], template)
    row.owner_id = user.id
    db.session.add(row)
    db.session.flush()
    if data["activate"]:
        switch_active(row, versions)
    db.session.commit()
    log.info("workflow uploaded name=%s version=%s owner=%s", row.name, version, user.id)
    return row


def switch_active(row: Workflow, versions: list[Workflow]) -> None:
    """Make `row` the one active version of its name (flush only)."""
    for other in versions:
        if other.id != row.id and other.is_active:
            other.is_active = False
    # The partial unique index allows one active row per name: clear before setting.
    db.session.flush()
    row.is_active = True
    db.session.flush()


def activate_workflow(user: User, workflow_id: int) -> Workflow:
    """Make a stored version the active one for its name.

    :raises NotFoundError: when there is no such workflow (or it is another account's).
    :raises PermissionDeniedError: for guests, or when the name is not the caller's.
    """
    if user.role == Role.GUEST.value:
        raise PermissionDeniedError("guests may not activate workflows")
    row = visible_workflow(user, workflow_id)
    versions = check_name_rights(user, row.name)
    switch_active(row, versions)
    db.session.commit()
    return row
