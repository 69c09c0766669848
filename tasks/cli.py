"""Farm commands for `flask --app web ...`: seed the built-in workflows."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from shared.db import db
from tasks.workflow_store import seed_default_workflows

workflows_cli = click.Group("workflows", help="Stored ComfyUI workflows.")


@workflows_cli.command("seed")
@with_appcontext
def seed() -> None:
    """Store the built-in stage workflows (idempotent)."""
    added = seed_default_workflows(db.session)
    db.session.commit()
    for row in added:
        click.echo(f"added {row.name} v{row.version}{' (active)' if row.is_active else ''}")
    if not added:
        click.echo("built-in workflows already stored")
