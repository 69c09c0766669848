"""Job priority onto the broker's convention, in one place.

Tower: 0-9, 9 the most urgent. The Redis transport serves the lowest number first.
"""

from __future__ import annotations

TOWER_MAX_PRIORITY = 9


def broker_priority(tower_priority: int) -> int:
    """The message priority the broker needs for a Tower job priority."""
    return TOWER_MAX_PRIORITY - max(0, min(TOWER_MAX_PRIORITY, tower_priority))
