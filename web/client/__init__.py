"""The Tower Python client and the `tower` command built on it."""

from __future__ import annotations

from web.client.api import TowerClient
from web.client.errors import ApiError, UnreachableError

__all__ = ["ApiError", "TowerClient", "UnreachableError"]
