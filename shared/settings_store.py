"""Farm settings at run time: read through a short per-process cache, changed with an audit.

`get_setting(name)` is what the web app and the workers call. A value comes from the
`farm_settings` row when an operator changed it, else from its environment variable, else from
its declaration (`shared.settings_catalog`). Each process re-reads the rows at most every
`CACHE_S` seconds, so a change reaches every web worker and Celery worker within that time,
with no restart and no message to send.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from shared.db import side_engine
from shared.errors import NotFoundError, ValidationError
from shared.models import FarmSetting, SettingChange, User
from shared.settings_catalog import SPECS, SettingSpec

log = logging.getLogger(__name__)

CACHE_S = 3.0
REDACTED = "<redacted>"
EXTENSION = "tower.farm_settings"
ENGINE_EXTENSION = "tower.farm_settings_engine"
# One writer at a time per setting, so each audit row's old value is the one it replaced.
WRITE_LOCK = 0x70E5E7


@dataclass
class SettingsCache:
    """The changed values one process last read, and when."""

    values: dict[str, Any] = field(default_factory=dict)
    read_at: float = float("-inf")
    # One reader at a time: while it reads, the others keep the values read before (only the
    # very first read is waited for), so a stale cache never sends every request to Postgres.
    reading: threading.Lock = field(default_factory=threading.Lock)


def spec_of(name: str) -> SettingSpec:
    """The declaration of a setting.

    :raises NotFoundError: naming an unknown setting.
    """
    spec = SPECS.get(name)
    if spec is None:
        raise NotFoundError(f"there is no setting named {name!r}")
    return spec


def default_of(name: str) -> Any:
    """A setting's default: its environment variable's value, else the declared one."""
    overrides = current_app.config["SETTINGS"].setting_defaults
    return overrides[name] if name in overrides else spec_of(name).initial


def get_setting(name: str) -> Any:
    """The value of a farm setting in effect now (at most CACHE_S seconds old).

    :raises NotFoundError: naming an unknown setting.
    """
    spec_of(name)
    changed = changed_values()
    return changed[name] if name in changed else default_of(name)


def all_settings() -> dict[str, Any]:
    """Every setting's value in effect now, by name."""
    changed = changed_values()
    return {name: changed[name] if name in changed else default_of(name) for name in SPECS}


def changed_values() -> dict[str, Any]:
    """The values operators set (not the defaults), re-read when the cache is stale."""
    cache = current_app.extensions.setdefault(EXTENSION, SettingsCache())
    if time.monotonic() - cache.read_at < CACHE_S:
        return cache.values
    if cache.reading.acquire(blocking=cache.read_at == float("-inf")):
        try:
            if time.monotonic() - cache.read_at >= CACHE_S:
                cache.values = read_changed()
                cache.read_at = time.monotonic()
        finally:
            cache.reading.release()
    return cache.values


def read_changed() -> dict[str, Any]:
    """The valid stored values, read on a connection of their own (never a caller's
    transaction); a stored value its declaration no longer allows is ignored, and logged."""
    with settings_engine().connect() as conn:
        rows = conn.execute(sa.select(FarmSetting.name, FarmSetting.value)).all()
    values = {}
    for name, value in rows:
        spec = SPECS.get(name)
        if spec is None or spec.problem(value):
            log.warning("stored setting ignored name=%s: unknown or out of bounds", name)
            continue
        values[name] = value
    return values


def settings_engine() -> sa.Engine:
    """The settings reader's own engine: one connection apart from the process's pool, so a
    caller already holding one of those (a request in its transaction) never waits for a
    second one from the same pool, which concurrent callers could all be doing at once (one
    reader at a time reads: SettingsCache.reading). Kept between reads, every CACHE_S: a new
    connection each time started a Postgres backend. A forked child opens its own."""
    return side_engine(ENGINE_EXTENSION, pool_size=1, max_overflow=0)


def forget_cached() -> None:
    """Make this process read the settings again at its next look."""
    current_app.extensions.pop(EXTENSION, None)


def checked(name: str, value: Any) -> Any:
    """`value` if the setting allows it.

    :raises NotFoundError: naming an unknown setting.
    :raises ValidationError: naming the setting and what is wrong with the value.
    """
    problem = spec_of(name).problem(value)
    if problem:
        raise ValidationError(f"invalid value for {name}: {problem}", fields={name: problem})
    return value


def set_setting(session: Session, name: str, value: Any, actor: User | None) -> SettingChange:
    """Store a new value and its audit row, and commit.

    :raises NotFoundError: naming an unknown setting.
    :raises ValidationError: naming the setting when the value is out of bounds.
    """
    checked(name, value)
    old = stored_value(session, name)
    row = session.get(FarmSetting, name) or FarmSetting(name=name)
    row.value = value
    row.updated_by = actor.id if actor else None
    session.add(row)
    return record_change(session, name, old, value, actor)


def reset_setting(session: Session, name: str, actor: User | None) -> SettingChange:
    """Go back to the default (forgetting the stored value), audited, and commit.

    :raises NotFoundError: naming an unknown setting.
    """
    old = stored_value(session, name)
    session.execute(sa.delete(FarmSetting).where(FarmSetting.name == name))
    return record_change(session, name, old, default_of(name), actor)


def stored_value(session: Session, name: str) -> Any:
    """The value in effect for the writer, read under the settings write lock."""
    spec_of(name)
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(WRITE_LOCK, sa.func.hashtext(name))))
    row = session.get(FarmSetting, name, populate_existing=True)
    return row.value if row is not None else default_of(name)


def record_change(
    session: Session, name: str, old: Any, new: Any, actor: User | None
) -> SettingChange:
    """Add the audit row of a change (secrets redacted), commit, and drop this process's
    cache so the writer sees its change at once."""
    change = SettingChange(
        name=name,
        old_value=redacted(name, old),
        new_value=redacted(name, new),
        actor_id=actor.id if actor else None,
        actor=actor.email if actor else "system",
    )
    session.add(change)
    session.commit()
    forget_cached()
    log.info("setting changed name=%s actor=%s", name, change.actor)
    return change


def redacted(name: str, value: Any) -> Any:
    """What may be shown of a value: a secret only as set (REDACTED) or empty ("")."""
    if not spec_of(name).secret:
        return value
    return REDACTED if value else ""
