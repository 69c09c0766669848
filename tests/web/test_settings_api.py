"""Farm settings over the API, on committed rows (every process reads them): a change takes
effect at once, a bad value changes nothing, the audit names who changed what, and a secret
never comes back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from shared.config import load_settings
from shared.db import db
from shared.errors import ConfigError
from shared.settings_catalog import SPECS
from shared.settings_store import REDACTED, get_setting
from tests import factories
from tests.web.conftest import Api, token_for

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def admin(app: Flask) -> Iterator[Api]:
    """An admin (committed) calling the API, and a clean settings table after the test."""
    with app.app_context():
        user = factories.make_user(db.session, role="admin")
        db.session.commit()
        api = Api(app.test_client(), token_for(app, user))
        api.email = user.email
    yield api
    with app.app_context():
        db.session.execute(sa.text("TRUNCATE farm_settings, setting_changes"))
        db.session.execute(sa.delete(factories.User).where(factories.User.id == user.id))
        db.session.commit()


def put(api: Api, name: str, value):
    return api.request("PUT", f"/api/settings/{name}", json={"value": value})


def audit(api: Api, name: str) -> list[dict]:
    return api.get(f"/api/settings/audit?name={name}").get_json()["items"]


def test_every_declared_setting_is_listed_with_its_default(admin):
    items = {s["name"]: s for s in admin.get("/api/settings").get_json()["items"]}
    assert list(items) == list(SPECS)
    assert (
        items["guest_jobs_per_hour"] | {"value": 5, "is_default": True}
        == items["guest_jobs_per_hour"]
    )
    assert items["node_wait_s"]["variable"] == "NODE_WAIT_S"
    assert items["cors_origins"]["value"] == []
    assert "LoraLoader" in items["workflow_node_allowlist"]["value"]
    assert items["llm_api_key"]["value"] is None and items["llm_api_key"]["secret"]


def test_a_change_takes_effect_at_once_and_is_audited(app, admin):
    before = Api(app.test_client()).get("/api/anime/guest-status").get_json()
    response = put(admin, "guest_jobs_per_hour", 7)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["value"] == 7 and not response.get_json()["is_default"]
    after = Api(app.test_client()).get("/api/anime/guest-status").get_json()
    assert (before["jobs_per_hour"], after["jobs_per_hour"]) == (5, 7)
    [change] = audit(admin, "guest_jobs_per_hour")
    assert change["old_value"] == 5 and change["new_value"] == 7
    assert change["actor"] == admin.email and change["changed_at"]
    reset = admin.delete("/api/settings/guest_jobs_per_hour")
    assert reset.status_code == 200 and reset.get_json()["is_default"]
    assert [c["new_value"] for c in audit(admin, "guest_jobs_per_hour")] == [5, 7]
    with app.app_context():
        assert get_setting("guest_jobs_per_hour") == 5


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("guest_jobs_per_hour", -1, "must be between 0 and 100000"),
        ("guest_jobs_per_hour", "7", "must be an integer"),
        ("guest_jobs_per_hour", True, "must be an integer"),
        # Past a float's range an integer was a 500 (math.isfinite cannot convert it).
        pytest.param("guest_jobs_per_hour", 10**400, "between 0 and 100000", id="huge-int"),
        pytest.param("login_first_delay_s", -(10**400), "between 0.1 and 3600", id="huge-float"),
        ("guest_mode", "everything", "must be one of off, images"),
        ("login_first_delay_s", 0, "must be between 0.1 and 3600"),
        ("cors_origins", ["https://studio.example/app"], "no path"),
        ("cors_origins", "https://studio.example", "must be a list"),
        ("cors_origins", ["https://a.example", "https://a.example"], "lists an item twice"),
        ("workflow_node_allowlist", ["KSampler", ""], "item 1"),
        ("render_default_multiplier", 3, "must be one of 2, 4"),
        ("public_read", "yes", "must be true or false"),
    ],
)
def test_an_illegal_value_is_refused_naming_the_setting_and_nothing_changes(
    app, admin, name, value, problem
):
    response = put(admin, name, value)
    body = response.get_json()
    assert response.status_code == 422, body
    assert set(body) == {"error", "message", "fields"} and list(body["fields"]) == [name]
    assert problem in body["fields"][name]
    assert audit(admin, name) == []
    assert admin.get(f"/api/settings/{name}").get_json()["is_default"]


def test_unknown_settings_and_bodies_without_a_value_are_refused(admin):
    assert put(admin, "no_such_setting", 1).status_code == 404
    missing = admin.request("PUT", "/api/settings/guest_mode", json={})
    assert missing.status_code == 422 and "value" in missing.get_json()["fields"]
    assert admin.get("/api/settings/audit?name=no_such_setting").status_code == 404


def test_a_secret_is_write_only_and_redacted_in_the_audit(admin):
    response = put(admin, "llm_api_key", SECRET)
    assert response.status_code == 200
    assert response.get_json()["value"] is None and response.get_json()["is_set"]
    put(admin, "llm_api_key", SECRET + "-rotated")
    readings = [
        admin.get("/api/settings").get_data(as_text=True),
        admin.get("/api/settings/llm_api_key").get_data(as_text=True),
        admin.get("/api/settings/audit").get_data(as_text=True),
    ]
    assert not any(SECRET in text for text in readings)
    changes = audit(admin, "llm_api_key")
    assert [(c["old_value"], c["new_value"]) for c in changes] == [
        (REDACTED, REDACTED),
        ("", REDACTED),
    ]
    assert json.loads(readings[1])["is_set"]


def test_an_environment_variable_sets_a_default_and_a_bad_one_stops_start_up():
    settings = load_settings({"TOWER_GUEST_JOBS_PER_HOUR": "9", "NODE_WAIT_S": "30"})
    assert settings.setting_defaults == {"guest_jobs_per_hour": 9, "node_wait_s": 30.0}
    assert settings.as_environ()["NODE_WAIT_S"] == "30"
    assert load_settings(settings.as_environ()).setting_defaults == settings.setting_defaults
    with pytest.raises(ConfigError, match="TOWER_CORS_ORIGINS"):
        load_settings({"TOWER_CORS_ORIGINS": "https://a.example/path"})
    with pytest.raises(ConfigError, match="NODE_WAIT_S"):
        load_settings({"NODE_WAIT_S": "soon"})
