"""The settings store: declarations hold their own defaults, a value another process stores is
read within the cache's few seconds, and a stored value the declaration refuses is ignored."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from shared.db import db
from shared.settings_catalog import SPECS, SettingSpec
from shared.settings_store import CACHE_S, get_setting
from tests.support.processes import wait_for


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_each_default_is_allowed_and_survives_its_environment_variable(spec):
    assert spec.problem(spec.initial) is None
    if spec.kind != "text" or spec.initial:
        assert spec.parse(spec.render(spec.initial)) == spec.initial


def test_a_declaration_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        SettingSpec("odd", "date", "", "a kind the store cannot check")
    with pytest.raises(ValueError, match="list item"):
        SettingSpec("odd", "list", [], "a list whose items nobody checks")


def store_raw(app, name: str, value) -> None:
    """Write a row as another process would: straight to the table, no cache dropped."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO farm_settings (name, value) VALUES (:name, CAST(:value AS jsonb)) "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"
            ),
            {"name": name, "value": json.dumps(value)},
        )


def test_another_process_change_is_read_within_the_cache_time_and_bad_rows_are_ignored(app):
    try:
        with app.app_context():
            assert get_setting("user_max_priority") == 5
        store_raw(app, "user_max_priority", 3)

        def seen() -> bool:
            with app.app_context():
                return get_setting("user_max_priority") == 3

        wait_for(seen, CACHE_S * 5, what="the stored value to be read")
        store_raw(app, "user_max_priority", 42)  # out of bounds: written behind the API's back
        store_raw(app, "retired_setting", 1)

        def back_to_default() -> bool:
            with app.app_context():
                return get_setting("user_max_priority") == 5

        wait_for(back_to_default, CACHE_S * 5, what="the bad row to be ignored")
    finally:
        with app.app_context():
            db.session.execute(sa.text("TRUNCATE farm_settings, setting_changes"))
            db.session.commit()


def test_a_stale_cache_is_read_again_while_every_pooled_connection_is_taken(app):
    from shared.settings_store import forget_cached

    with app.app_context():
        pool = db.engine.pool
        held = [db.engine.connect() for _ in range(pool.size() + pool._max_overflow)]
        try:
            forget_cached()
            # Concurrent requests each hold a pooled connection: reading must not need one more.
            assert get_setting("user_max_priority") == 5
        finally:
            for conn in held:
                conn.close()
