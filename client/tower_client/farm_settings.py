"""Farm settings over the API (admins): list, read, change, reset, and the audit of changes.

Functions over a `TowerClient`, so the client class stays as it is; the `tower settings`
commands are built on them.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

from tower_client.api import TowerClient


def list_settings(client: TowerClient) -> list[dict[str, Any]]:
    """Every setting: value in effect (None for secrets), default, bounds, meaning."""
    return client.call("GET", "/api/settings")["items"]


def get_setting(client: TowerClient, name: str) -> dict[str, Any]:
    """One setting.

    :raises ApiError: 404 for an unknown name.
    """
    return client.call("GET", f"/api/settings/{quote(name, safe='')}")


def set_setting(client: TowerClient, name: str, value: Any) -> dict[str, Any]:
    """Give a setting a new value (of its kind); it takes effect on the farm within seconds.

    :raises ApiError: 422 naming the setting when the value is not allowed.
    """
    return client.call("PUT", f"/api/settings/{quote(name, safe='')}", json={"value": value})


def reset_setting(client: TowerClient, name: str) -> dict[str, Any]:
    """Put a setting back to its default."""
    return client.call("DELETE", f"/api/settings/{quote(name, safe='')}")


def setting_changes(
    client: TowerClient, name: str | None = None, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest changes (of one setting when `name` is given): who, when, before, after."""
    params: dict[str, Any] = {"limit": limit}
    if name:
        params["name"] = name
    return client.call("GET", "/api/settings/audit", params=params)["items"]


def value_from_text(kind: str, text: str) -> Any:
    """What a person typed, as a value of the setting's kind: text stays text, a list is JSON
    or comma-separated, anything else is JSON (sent as typed when it is not, so the farm's
    refusal names what is wrong)."""
    if kind == "text":
        return text
    if kind == "list" and not text.lstrip().startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    try:
        return json.loads(text, parse_float=finite_float, parse_constant=not_json)
    except ValueError:
        return text


def finite_float(text: str) -> float:
    """A JSON number as a float, if it is finite (1e999 overflows to infinity).

    :raises ValueError: otherwise, since JSON cannot carry it to the farm.
    """
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def not_json(text: str) -> Any:
    """Python's parser reads NaN and Infinity; JSON has no such numbers.

    :raises ValueError: always.
    """
    raise ValueError(f"{text} is not JSON")


def shown(setting: dict[str, Any]) -> str:
    """A setting's value on one line (a secret only as set or not)."""
    if setting["secret"]:
        return "<set>" if setting["is_set"] else "<not set>"
    value = setting["value"]
    if isinstance(value, list):
        return ", ".join(value) if len(value) <= 5 else f"{len(value)} items"
    return json.dumps(value) if isinstance(value, bool) else str(value)
