"""Farm commands for `flask --app web ...`: the built-in workflows and the audio library."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from shared.db import db
from shared.errors import FarmError
from shared.models import LibraryEntry
from tasks.pipeline.library_store import add_demo_library, add_library_entry
from tasks.pipeline.workflow_store import seed_default_workflows
from workers.storage import LocalStore

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


library_cli = click.Group("library", help="The music and sound-effect library.")


def _store() -> LocalStore:
    return LocalStore(current_app.config["SETTINGS"].artifact_root)


@library_cli.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["music", "sfx"]), required=True)
@click.option("--name", required=True, help="Unique per kind; re-adding replaces the entry.")
@click.option("--tags", default="", help="Comma-separated: moods for music, sounds for sfx.")
@click.option("--loop", nargs=2, type=float, help="Music: START END seconds repeated.")
@with_appcontext
def add(file: Path, kind: str, name: str, tags: str, loop: tuple[float, float] | None) -> None:
    """Add an audio file to the library (checked first: decodable, length, sample rate)."""
    start, end = loop or (None, None)
    try:
        row = add_library_entry(
            db.session, _store(), file, kind=kind, name=name, tags=tags.split(","),
            loop_start_s=start, loop_end_s=end,
        )  # fmt: skip
    except FarmError as exc:
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"{row.kind} {row.name!r}: {row.duration_s:.1f}s tags={','.join(row.tags)}")


@library_cli.command("demo")
@with_appcontext
def demo() -> None:
    """Generate the demo library (music loops per mood, a few effects) and register it."""
    rows = add_demo_library(db.session, _store())
    db.session.commit()
    click.echo(f"demo library: {len(rows)} entries")


@library_cli.command("list")
@with_appcontext
def list_entries() -> None:
    """Show the library."""
    for row in db.session.scalars(
        sa.select(LibraryEntry).order_by(LibraryEntry.kind, LibraryEntry.name)
    ):
        click.echo(f"{row.kind:6} {row.name:24} {row.duration_s:6.1f}s  {','.join(row.tags)}")
