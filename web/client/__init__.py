"""The Tower Python client and the `tower` command built on it."""

from __future__ import annotations

from web.client.api import ApiError, TowerClient, UnreachableError

__all__ = ["ApiError", "TowerClient", "UnreachableError"]
