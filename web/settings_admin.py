"""Farm settings for admins: each described with its value, changed or reset (audited), and
the audit read back."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.models import FarmSetting, SettingChange, User
from shared.settings_catalog import SPECS
from shared.settings_store import default_of, reset_setting, set_setting, spec_of
from web.paging import fetch_page


def describe_setting(name: str, row: FarmSetting | None = None) -> dict[str, Any]:
    """A setting as admins see it: a secret's value is never shown, only whether it is set.

    :raises NotFoundError: naming an unknown setting.
    """
    spec = spec_of(name)
    row = row or db.session.get(FarmSetting, name)
    default = default_of(name)
    value = row.value if row is not None else default
    return {
        "name": name,
        "kind": spec.kind,
        "value": None if spec.secret else value,
        "default": None if spec.secret else default,
        "is_default": row is None,
        "is_set": bool(value) if spec.kind in ("text", "list") else True,
        "secret": spec.secret,
        "description": spec.description,
        "min": spec.low,
        "max": spec.high,
        "choices": list(spec.choices),
        "variable": spec.variable,
        "updated_at": row.updated_at if row is not None else None,
        "updated_by": row.updated_by if row is not None else None,
    }


def list_settings() -> dict[str, Any]:
    """Every setting, in declaration order."""
    rows = {row.name: row for row in db.session.scalars(sa.select(FarmSetting))}
    return {"items": [describe_setting(name, rows.get(name)) for name in SPECS]}


def change_setting(user: User, name: str, value: Any) -> dict[str, Any]:
    """Store a new value (audited) and describe the setting.

    :raises NotFoundError: naming an unknown setting.
    :raises ValidationError: naming the setting when the value is not allowed.
    """
    set_setting(db.session, name, value, user)
    return describe_setting(name)


def reset_to_default(user: User, name: str) -> dict[str, Any]:
    """Forget the stored value (audited) and describe the setting.

    :raises NotFoundError: naming an unknown setting.
    """
    reset_setting(db.session, name, user)
    return describe_setting(name)


def audit_page(*, name: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Changes, newest first (of one setting when `name` is given).

    :raises NotFoundError: naming an unknown setting.
    """
    stmt = sa.select(SettingChange)
    if name is not None:
        spec_of(name)
        stmt = stmt.where(SettingChange.name == name)
    return fetch_page(
        stmt, [SettingChange.id], descending=True, limit=limit, cursor=cursor, kinds=(int,)
    )
