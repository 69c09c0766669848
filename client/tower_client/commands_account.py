"""`tower login` and `tower logout`: one saved API token per farm, reused while it is valid and
revoked on the farm when it is replaced or the user logs out."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from tower_client.address import normalize_url
from tower_client.api import TowerClient
from tower_client.errors import ApiError, TowerError

TOKEN_NAME = "tower cli {email}"
# A saved token closer than this to its end is replaced at the next login.
REUSE_MIN_LEFT = timedelta(days=1)


def read_password() -> str:
    """The password: prompted without echo on a terminal, else the next line of stdin (getpass
    would warn that it cannot hide a piped password).

    :raises click.ClickException: when stdin has no line left.
    """
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True)
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("no password given: pass --password or a line on stdin")
    return line.rstrip("\r\n")


def lasts(client: TowerClient, token_id: int | None) -> bool:
    """Whether the saved token has more than REUSE_MIN_LEFT to live (when its id was not
    saved, by an older `tower login`, it is taken to have)."""
    if token_id is None:
        return True
    row = next((t for t in client.list_api_tokens() if t["id"] == token_id), None)
    if row is None or not row.get("expires_at"):
        return row is not None
    expires = datetime.fromisoformat(row["expires_at"])
    return expires - datetime.now(UTC) > REUSE_MIN_LEFT


def saved_token_account(obj: Any) -> dict[str, Any] | None:
    """The account the saved token of this farm still opens, or None (none saved, another
    farm's, revoked or expired)."""
    from tower_client.cli import load_config  # cli imports this module to register it

    saved = load_config(obj.config)
    if not saved.get("token") or normalize_url(saved.get("url") or "") != obj.url:
        return None
    with TowerClient(obj.url, token=saved["token"]) as client:
        try:
            return client.me()
        except ApiError as exc:
            if exc.status == 401:
                return None
            raise


def reusable(obj: Any, client: TowerClient) -> bool:
    """Whether the saved token opens the account `client` has just logged into, and will for
    more than REUSE_MIN_LEFT."""
    from tower_client.cli import load_config

    current = saved_token_account(obj)
    if current is None or current["id"] != client.me()["id"]:
        return False
    return lasts(client, load_config(obj.config).get("token_id"))


def replace_saved_token(obj: Any, email: str, created: dict[str, Any]) -> None:
    """Save a new token in place of the old one, which is revoked on its farm."""
    from tower_client.cli import load_config, save_config

    old = load_config(obj.config)
    saved = {"url": obj.url, "token": created["token"], "token_id": created["id"], "email": email}
    save_config(obj.config, saved)
    if old.get("token"):
        try:
            revoke_quietly(normalize_url(old.get("url") or obj.url), old["token"])
        except TowerError as exc:
            click.echo(f"warning: the replaced token was not revoked: {exc}", err=True)


def revoke_quietly(url: str, token: str) -> None:
    """Revoke a token we are replacing; one that no longer works needs no revoking."""
    with TowerClient(url, token=token) as client:
        try:
            client.logout()
        except ApiError as exc:
            if exc.status != 401:
                raise


@click.command()
@click.option("--email", prompt=True, help="Account email.")
@click.option("--password", help="Else prompted (or the next line of stdin).")
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=30,
    show_default=True,
    help="How long a new API token lasts.",
)
@click.pass_obj
def login(obj: Any, email: str, password: str | None, days: int) -> None:
    """Log in and save an API token for later commands (the saved one while it has more than
    a day to live)."""
    password = read_password() if password is None else password
    with obj.client(need_token=False) as client:
        body = client.login(email, password)
        created = None
        if not reusable(obj, client):
            name = TOKEN_NAME.format(email=email)
            created = client.create_api_token(name, expires_in_days=days)
        client.logout()  # the access token only proved the password
    done = f"logged in to {obj.url} as {email} ({body['role']})"
    if created is None:
        click.echo(f"{done}; saved token reused")
        return
    replace_saved_token(obj, email, created)
    click.echo(f"{done}; token valid {days} days")


@click.command()
@click.pass_obj
def logout(obj: Any) -> None:
    """Revoke the saved token on the farm and forget it here.

    :raises click.ClickException: when the farm could not revoke it (it is forgotten here all
        the same).
    """
    from tower_client.cli import load_config, save_config

    saved = load_config(obj.config)
    token = saved.get("token")
    if not token:
        click.echo("not logged in")
        return
    url = normalize_url(saved.get("url") or obj.url)
    save_config(obj.config, {k: v for k, v in saved.items() if k != "token"})
    with TowerClient(url, token=token) as client:
        try:
            client.logout()
        except TowerError as exc:
            if isinstance(exc, ApiError) and exc.status == 401:
                click.echo(f"logged out of {url} (the token was no longer valid there)")
                return
            raise click.ClickException(
                f"forgot the token here, but {url} did not revoke it: {exc}"
            ) from exc
    click.echo(f"logged out of {url}; its token is revoked")
