"""`tower settings` against the web app served by gunicorn: list, set (typed by the setting's
kind), refusals naming the setting, secrets never echoed, the audit, reset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from shared.db import db
from shared.models import User
from tests import factories
from tests.client.cli_runner import call_tower
from tests.support.processes import wait_for
from tests.support.web_server import start_gunicorn
from tests.web.conftest import token_for

SECRET = "sk-cli-secret-0123456789"


@pytest.fixture(scope="module")
def admin_config(settings, app, log_dir, tmp_path_factory) -> Iterator[tuple[str, Path, str]]:
    """The web app on gunicorn, and a CLI config holding an admin's token."""
    with app.app_context():
        admin = factories.make_user(db.session, role="admin")
        db.session.commit()
        token, email = token_for(app, admin), admin.email
    web, url = start_gunicorn(settings.as_environ(), log_dir / "gunicorn-settings.log")
    config = tmp_path_factory.mktemp("settings-cli") / "cli.json"
    config.write_text(json.dumps({"url": url, "token": token}))
    try:
        yield url, config, email
    finally:
        web.stop()
        with app.app_context():
            db.session.execute(sa.text("TRUNCATE farm_settings, setting_changes"))
            db.session.execute(sa.delete(User).where(User.email == email))
            db.session.commit()


def tower(capsys, config: Path, *args: str):
    return call_tower(capsys, "settings", *args, config=config)


def test_list_set_and_reset_a_limit_that_the_farm_then_applies(capsys, admin_config):
    url, config, _ = admin_config
    listing = tower(capsys, config, "list")
    assert listing.code == 0, listing
    assert any(line.split() == ["guest_jobs_per_hour", "5"] for line in listing.stdout.splitlines())
    assert "llm_api_key" in listing.stdout and "<not set>" in listing.stdout
    changed = tower(capsys, config, "set", "guest_jobs_per_hour", "8")
    assert changed.code == 0 and changed.stdout.strip() == "guest_jobs_per_hour = 8", changed
    wait_for(
        lambda: (
            requests.get(f"{url}/api/anime/guest-status", timeout=10).json()["jobs_per_hour"] == 8
        ),
        30,
        what="the web app to apply the new quota",
    )
    assert "guest_jobs_per_hour * 8" in " ".join(tower(capsys, config, "list").stdout.split())
    reset = tower(capsys, config, "reset", "guest_jobs_per_hour")
    assert reset.code == 0 and "= 5 (default)" in reset.stdout


def test_lists_take_commas_and_bad_values_are_refused_naming_the_setting(capsys, admin_config):
    _, config, _ = admin_config
    origins = tower(capsys, config, "set", "cors_origins", "https://a.example, https://b.example")
    assert origins.code == 0, origins
    got = json.loads(tower(capsys, config, "get", "cors_origins").stdout)
    assert got["value"] == ["https://a.example", "https://b.example"]
    for name, value in (("guest_jobs_per_hour", "-3"), ("cors_origins", "https://a.example/x")):
        refused = tower(capsys, config, "set", name, value)
        assert refused.code == 1 and refused.stdout == "", refused
        assert len(refused.stderr.strip().splitlines()) == 1 and name in refused.stderr
    # NaN and Infinity are no JSON: they went nowhere, said as "cannot reach Tower".
    for value in ("NaN", "-Infinity", "1e999"):
        refused = tower(capsys, config, "set", "scene_max_s", value)
        assert refused.code == 1, refused
        assert "scene_max_s: must be a number" in refused.stderr, refused
    unknown = tower(capsys, config, "set", "no_such_setting", "1")
    assert unknown.code == 1 and "no_such_setting" in unknown.stderr


def test_a_secret_is_never_echoed_and_its_change_is_audited(capsys, admin_config):
    _, config, email = admin_config
    result = tower(capsys, config, "set", "llm_api_key", SECRET)
    assert result.code == 0 and result.stdout.strip() == "llm_api_key = <set>", result
    shown = tower(capsys, config, "get", "llm_api_key").stdout
    audit = tower(capsys, config, "audit", "llm_api_key")
    assert SECRET not in shown + audit.stdout + audit.stderr
    assert audit.code == 0 and email in audit.stdout and '"" -> "<redacted>"' in audit.stdout
