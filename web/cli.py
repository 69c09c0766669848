"""`flask --app web users ...`: account commands for operators at a shell."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from shared.errors import FarmError
from shared.models import Role
from web.credentials import MIN_PASSWORD_LENGTH

users_cli = AppGroup("users", help="Manage Tower accounts.")


def read_password() -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin.

    :raises click.ClickException: when it is too short.
    """
    try:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"the password is not text in {exc.encoding}") from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


def checked_account(data: dict[str, str], partial: tuple[str, ...] = ()) -> dict[str, str]:
    """The account's fields checked by the API's own rules (an email, text Postgres can
    store: the shell hands non-UTF-8 arguments over as lone surrogates).

    :raises click.ClickException: naming each field refused.
    """
    from web.errors import fields_from_messages
    from web.schemas.accounts import UserCreateSchema

    try:
        return UserCreateSchema().load(data, partial=partial)
    except ValidationError as exc:
        problems = fields_from_messages(exc.messages)
        raise click.ClickException(
            "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        ) from exc


@users_cli.command("create")
@click.argument("email")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.USER.value, show_default=True
)
def create_user_command(email: str, role: str) -> None:
    """Create an account; the password is read from stdin."""
    from web.accounts import create_user

    checked_account({"email": email, "role": role}, partial=("password",))
    password = read_password()
    account = checked_account({"email": email, "role": role, "password": password})
    try:
        user = create_user(**account)
    except FarmError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created user {user.id} {user.email} ({user.role})")
