"""The dashboard's settings page in headless Chromium: an admin changes a limit, a list and a
secret in place; a bad value is refused on its row; the change shows among recent changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from shared.db import db
from shared.models import User
from shared.settings_store import get_setting
from web.credentials import hash_password

EMAIL, PASSWORD = "settings-admin@example.com", "admin password 1"
SECRET = "sk-browser-secret-42"


@pytest.fixture
def admin(app: Flask) -> Iterator[None]:
    """A committed admin; the settings and their audit are emptied afterwards."""
    with app.app_context():
        db.session.add(User(email=EMAIL, password_hash=hash_password(PASSWORD), role="admin"))
        db.session.commit()
    yield
    with app.app_context():
        db.session.execute(sa.text("TRUNCATE farm_settings, setting_changes"))
        db.session.execute(sa.delete(User).where(User.email == EMAIL))
        db.session.commit()


def row(page, name: str):
    return page.locator(f'#settings tr[data-setting="{name}"]')


def save(page, name: str) -> None:
    """Press Save on a row and wait for the page to come back (a success reloads it)."""
    with page.expect_navigation():
        row(page, name).locator('button[data-setting-action="save"]').click()


def test_admin_edits_settings_in_place(page, base_url, app, admin, csp_violations):
    page.goto(f"{base_url}/dashboard/login?next=/dashboard/settings")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_url(lambda url: url.endswith("/dashboard/settings"))

    quota = row(page, "guest_jobs_per_hour")
    quota.locator('[name="value"]').fill("-1")
    quota.locator('button[data-setting-action="save"]').click()
    quota.locator(".outcome", has_text="must be between 0 and 100000").wait_for()
    quota.locator('[name="value"]').fill("9")
    save(page, "guest_jobs_per_hour")
    assert row(page, "guest_jobs_per_hour").locator('[name="value"]').input_value() == "9"

    row(page, "cors_origins").locator("textarea").fill("https://a.example\nhttps://b.example\n")
    save(page, "cors_origins")
    row(page, "llm_api_key").locator("input").fill(SECRET)
    save(page, "llm_api_key")

    assert SECRET not in page.content()
    assert row(page, "llm_api_key").locator("input").get_attribute("placeholder") == "set"
    changes = page.locator("#changes tbody").inner_text()
    assert "guest_jobs_per_hour" in changes and "<redacted>" in changes and EMAIL in changes
    with app.app_context():
        assert get_setting("guest_jobs_per_hour") == 9
        assert get_setting("cors_origins") == ["https://a.example", "https://b.example"]
    assert csp_violations == []
