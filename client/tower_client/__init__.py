"""The Tower Python client and the `tower` command built on it (its own distribution,
`tower-client`: it needs requests, click, PyYAML, tqdm and Pillow, and nothing of the farm)."""

from __future__ import annotations

from tower_client.api import TowerClient
from tower_client.errors import ApiError, TowerError, UnreachableError

__all__ = ["ApiError", "TowerClient", "TowerError", "UnreachableError"]
