"""Time limits per stage, in one place: tasks use them and the broker's visibility timeout
must exceed the longest."""

from __future__ import annotations

# stage -> (soft limit, hard limit) in seconds
STAGE_TIME_LIMITS: dict[str, tuple[int, int]] = {
    "keyframe": (600, 660),
    "animate": (1800, 1900),
    "interpolate": (900, 960),
    "compile": (1800, 1900),
    "mix": (900, 960),
}
LONGEST_HARD_LIMIT_S = max(hard for _, hard in STAGE_TIME_LIMITS.values())
