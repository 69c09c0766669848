"""The dashboard's settings page: admins only, every setting with its bounds, secrets never
shown, recent changes listed."""

from __future__ import annotations

from tests.support.settings import farm_setting
from tests.web.test_dashboard import log_in

SECRET = "sk-dashboard-secret-value"


def test_admins_see_every_setting_and_the_changes_but_never_a_secret(app, client, world):
    log_in(client, world.users["admin"])
    with farm_setting(app, "llm_api_key", SECRET), farm_setting(app, "guest_jobs_per_hour", 3):
        page = client.get("/dashboard/settings").get_data(as_text=True)
    assert 'data-setting="guest_jobs_per_hour" data-kind="int"' in page
    assert 'data-setting="cors_origins" data-kind="list"' in page
    assert 'value="3"' in page and "0 to 100000" in page and "off, images" in page
    assert 'type="password"' in page and SECRET not in page
    assert "<td>llm_api_key</td><td>system</td>" in page and "&lt;redacted&gt;" in page
    assert 'href="/dashboard/settings"' in page
    script = client.get("/dashboard/static/dashboard.js").get_data(as_text=True)
    assert "initSettings" in script


def test_operators_get_a_403_page_and_no_link(client, world):
    log_in(client, world.users["operator"])
    reply = client.get("/dashboard/settings")
    assert reply.status_code == 403 and "Admins only" in reply.get_data(as_text=True)
    assert 'href="/dashboard/settings"' not in client.get("/dashboard/").get_data(as_text=True)
