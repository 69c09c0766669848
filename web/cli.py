"""`flask --app web users ...`: account commands for operators at a shell."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from shared.errors import FarmError
from shared.models import Role
from web.credentials import MIN_PASSWORD_LENGTH

users_cli = AppGroup("users", help="Manage Tower accounts.")


def read_password() -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin.

    :raises click.ClickException: when it is too short.
    """
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.USER.value, show_default=True
)
def create_user_command(email: str, role: str) -> None:
    """Create an account; the password is read from stdin."""
    from web.accounts import create_user

    password = read_password()
    if "@" not in email or len(email) > 254:
        raise click.ClickException(f"{email!r} is not an email address")
    try:
        user = create_user(email, password, role)
    except FarmError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created user {user.id} {user.email} ({user.role})")
