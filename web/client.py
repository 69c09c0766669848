"""The client's old address: it is its own distribution now (`tower_client`, in client/)."""

from __future__ import annotations

from tower_client import ApiError, TowerClient, TowerError, UnreachableError

__all__ = ["ApiError", "TowerClient", "TowerError", "UnreachableError"]
