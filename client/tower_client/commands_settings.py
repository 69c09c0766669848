"""`tower settings`: the farm's run-time settings (admins): list, get, set, reset, audit."""

from __future__ import annotations

import json
from typing import Any

import click

from tower_client import farm_settings


@click.group()
def settings() -> None:
    """Farm settings (admins): changes take effect within seconds, and are audited."""


@settings.command("list")
@click.pass_obj
def list_command(obj: Any) -> None:
    """Every setting and its value ('*': changed from the default)."""
    with obj.client() as client:
        rows = farm_settings.list_settings(client)
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        mark = " " if row["is_default"] else "*"
        click.echo(f"{row['name']:<{width}} {mark} {farm_settings.shown(row)}")


@settings.command("get")
@click.argument("name")
@click.pass_obj
def get_command(obj: Any, name: str) -> None:
    """One setting in full (JSON): value, default, bounds, meaning."""
    with obj.client() as client:
        click.echo(json.dumps(farm_settings.get_setting(client, name), indent=2))


# A negative number is a value, not an option.
@settings.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("value", required=False)
@click.pass_obj
def set_command(obj: Any, name: str, value: str | None) -> None:
    """Give NAME a new VALUE: JSON for numbers and true/false, a list as JSON or
    comma-separated; without VALUE it is asked for, hidden (for secrets)."""
    with obj.client() as client:
        kind = farm_settings.get_setting(client, name)["kind"]
        if value is None:
            value = click.prompt(f"{name}", hide_input=True)
        row = farm_settings.set_setting(client, name, farm_settings.value_from_text(kind, value))
    click.echo(f"{name} = {farm_settings.shown(row)}")


@settings.command("reset")
@click.argument("name")
@click.pass_obj
def reset_command(obj: Any, name: str) -> None:
    """Put NAME back to its default."""
    with obj.client() as client:
        row = farm_settings.reset_setting(client, name)
    click.echo(f"{name} = {farm_settings.shown(row)} (default)")


@settings.command("audit")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@click.pass_obj
def audit_command(obj: Any, name: str | None, limit: int) -> None:
    """The newest changes (of NAME): when, what, who, before -> after."""
    with obj.client() as client:
        changes = farm_settings.setting_changes(client, name, limit=limit)
    for change in changes:
        click.echo(
            f"{change['changed_at']}  {change['name']}  {change['actor']}  "
            f"{json.dumps(change['old_value'])} -> {json.dumps(change['new_value'])}"
        )
