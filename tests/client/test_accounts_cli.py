"""`tower login` and `tower logout` against the live farm: a piped password, one saved token
per farm reused while valid, and a logout that revokes it on the farm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from tower_client.api import TowerClient
from tower_client.errors import ApiError

from tests.client.cli_runner import run_tower

OTHER_EMAIL = "cli-second@example.com"
OTHER_PASSWORD = "cli-second-password"


def saved(config: Path) -> dict:
    return json.loads(config.read_text())


def live_tokens(url: str, token: str) -> set[int]:
    """Ids of the account's API tokens that are not revoked."""
    with TowerClient(url, token=token) as client:
        return {t["id"] for t in client.call("GET", "/auth/tokens") if t["revoked_at"] is None}


def refused(url: str, token: str) -> bool:
    """Whether the farm refuses `token` as a credential."""
    with TowerClient(url, token=token) as client:
        try:
            client.me()
        except ApiError as exc:
            return exc.status == 401
    return False


@pytest.fixture(scope="module")
def second_account(app: Flask) -> str:
    """Another account on the farm (a user)."""
    from shared.db import db
    from web.accounts import create_user

    with app.app_context():
        create_user(OTHER_EMAIL, OTHER_PASSWORD, "user")
        db.session.commit()
    return OTHER_EMAIL


def test_a_piped_password_logs_in_without_a_warning(live, tmp_path):
    config = tmp_path / "cli.json"
    result = run_tower(
        "--url", live.url, "login", "--email", live.email, config=config, stdin=f"{live.password}\n"
    )
    assert result.code == 0, result
    assert "Warning" not in result.stderr and "echo" not in result.stderr, result
    assert saved(config)["token"].startswith("twr_")


def test_login_again_reuses_the_saved_token_and_logout_revokes_it(live, tmp_path):
    config = tmp_path / "cli.json"
    login = ("--url", live.url, "login", "--email", live.email, "--password", live.password)
    first = run_tower(*login, config=config)
    assert first.code == 0 and "token valid 30 days" in first.stdout, first
    token = saved(config)["token"]
    before = live_tokens(live.url, token)

    again = run_tower(*login, config=config)
    assert again.code == 0 and "saved token reused" in again.stdout, again
    assert saved(config)["token"] == token
    assert live_tokens(live.url, token) == before

    out = run_tower("logout", config=config)
    assert out.code == 0 and "token is revoked" in out.stdout, out
    assert "token" not in saved(config) and saved(config)["url"] == live.url
    assert refused(live.url, token)
    assert run_tower("logout", config=config).stdout.strip() == "not logged in"

    # Without a saved token the next login makes a new one.
    renewed = run_tower(*login, config=config)
    assert renewed.code == 0 and "token valid" in renewed.stdout, renewed
    assert saved(config)["token"] != token


def test_logging_in_as_another_account_revokes_the_replaced_token(live, tmp_path, second_account):
    config = tmp_path / "cli.json"
    run_tower(
        "--url", live.url, "login", "--email", live.email, "--password", live.password,
        config=config,
    )  # fmt: skip
    operator_token = saved(config)["token"]
    result = run_tower(
        "login", "--email", second_account, "--password", OTHER_PASSWORD, config=config
    )
    assert result.code == 0 and f"as {second_account} (user)" in result.stdout, result
    assert saved(config)["token"] != operator_token
    assert refused(live.url, operator_token)


def test_logout_says_when_the_farm_could_not_revoke(live, tmp_path):
    config = tmp_path / "cli.json"
    config.write_text(json.dumps({"url": "http://127.0.0.1:9", "token": "twr_x"}))
    result = run_tower("logout", config=config)
    assert result.code == 1, result
    assert result.stderr.startswith("tower: forgot the token here, but http://127.0.0.1:9 did not")
    assert "token" not in saved(config)


def test_a_saved_token_near_its_end_is_replaced_and_revoked(live, tmp_path):
    with TowerClient(live.url) as client:
        client.login(live.email, live.password)
        short = client.create_api_token("about to end", expires_in_days=1)
    config = tmp_path / "cli.json"
    config.write_text(
        json.dumps({"url": live.url, "token": short["token"], "token_id": short["id"]})
    )
    result = run_tower("login", "--email", live.email, "--password", live.password, config=config)
    assert result.code == 0 and "token valid 30 days" in result.stdout, result
    assert saved(config)["token"] != short["token"]
    assert refused(live.url, short["token"])
