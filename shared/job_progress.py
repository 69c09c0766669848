"""Job progress: a weighted sum over stage runs by expected cost, and an ETA from the step rate.

GPU stages weigh steps x frames (read from StageRun.inputs); CPU stages weigh a fixed small
share of the GPU work. Only the latest attempt of each (stage, scene, segment) counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.models.status import Status
from shared.stages import BY_NAME, STAGE_NAMES, Weight

DEFAULT_STEPS = 20
DEFAULT_FRAMES = 1
# Each stage weighed as a share (the CPU stages) is this share of the job's sampling work:
# minutes of ffmpeg against hours of sampling.
CPU_SHARE = 0.05
CPU_MIN_WEIGHT = 1.0
RUNNING_CEILING = 0.999
STAGE_ORDER = list(STAGE_NAMES)


@dataclass(frozen=True)
class StageCost:
    """The facts of one stage run that job progress needs."""

    stage: str
    scene_id: int | None
    attempt: int
    status: str
    progress: float
    step: int = 0
    step_max: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)
    segment: int = 0

    @classmethod
    def from_row(cls, row: Any) -> StageCost:
        """Read the fields from a StageRun (or any row with the same attributes)."""
        return cls(
            stage=row.stage,
            scene_id=row.scene_id,
            attempt=row.attempt or 1,
            status=row.status,
            progress=float(row.progress or 0.0),
            step=row.step or 0,
            step_max=row.step_max or 0,
            inputs=dict(row.inputs or {}),
            segment=getattr(row, "segment", 0) or 0,
        )


def gpu_weight(inputs: dict[str, Any]) -> float:
    """Expected cost of a GPU stage: steps x frames (defaults when the inputs are silent)."""
    steps = _positive(inputs.get("steps"), DEFAULT_STEPS)
    frames = _positive(inputs.get("frames"), DEFAULT_FRAMES)
    return float(steps * frames)


def _positive(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def stage_fraction(cost: StageCost) -> float:
    """How much of one stage run is done, 0..1 (1 only when it succeeded)."""
    if cost.status == Status.SUCCEEDED:
        return 1.0
    if cost.status == Status.QUEUED and not cost.progress:
        return 0.0
    fraction = cost.progress
    if not fraction and cost.step_max:
        fraction = cost.step / cost.step_max
    return min(max(fraction, 0.0), RUNNING_CEILING)


def latest_attempts(costs: Iterable[StageCost]) -> list[StageCost]:
    """Only the highest attempt of each (stage, scene, segment)."""
    latest: dict[tuple[str, int | None, int], StageCost] = {}
    for cost in costs:
        key = (cost.stage, cost.scene_id, cost.segment)
        if key not in latest or cost.attempt >= latest[key].attempt:
            latest[key] = cost
    return list(latest.values())


def weigh_stages(costs: Iterable[StageCost]) -> tuple[float, float]:
    """(done weight, total weight) over the latest attempts."""
    current = latest_attempts(costs)
    gpu = [c for c in current if _weight(c.stage) is Weight.SAMPLING]
    cpu = [c for c in current if _weight(c.stage) is not Weight.SAMPLING]
    gpu_total = sum(gpu_weight(c.inputs) for c in gpu)
    cpu_each = max(gpu_total * CPU_SHARE, CPU_MIN_WEIGHT)
    done = sum(gpu_weight(c.inputs) * stage_fraction(c) for c in gpu)
    done += sum(cpu_each * stage_fraction(c) for c in cpu)
    return done, gpu_total + cpu_each * len(cpu)


def _weight(stage: str) -> Weight:
    kind = BY_NAME.get(stage)
    return kind.weight if kind else Weight.SHARE


def job_fraction(costs: Iterable[StageCost], job_status: str) -> float:
    """Job progress 0..1: exactly 1.0 when (and only when) the job succeeded."""
    if job_status == Status.SUCCEEDED:
        return 1.0
    done, total = weigh_stages(costs)
    if total <= 0:
        return 0.0
    return min(done / total, RUNNING_CEILING)


def current_stage(costs: Iterable[StageCost]) -> str | None:
    """The furthest stage in pipeline order that is running, else None."""
    running = {c.stage for c in latest_attempts(costs) if c.status == Status.RUNNING}
    for name in reversed(STAGE_ORDER):
        if name in running:
            return name
    return None


class EtaEstimator:
    """Seconds left, from the observed rate of work done (an exponentially weighted rate)."""

    def __init__(self, *, alpha: float = 0.3, min_interval_s: float = 0.5) -> None:
        self.alpha = alpha
        self.min_interval_s = min_interval_s
        self.rate: float | None = None
        self._last: tuple[float, float] | None = None

    def observe(self, done: float, total: float, now: float | None = None) -> float | None:
        """Record `done` of `total` weight at time `now`; the ETA in seconds, or None."""
        now = time.monotonic() if now is None else now
        if self._last is None:
            self._last = (now, done)
            return None
        last_t, last_done = self._last
        if now - last_t >= self.min_interval_s:
            sample = max(done - last_done, 0.0) / (now - last_t)
            self.rate = (
                sample
                if self.rate is None
                else (self.alpha * sample + (1 - self.alpha) * self.rate)
            )
            self._last = (now, done)
        if not self.rate:
            return None
        return max(total - done, 0.0) / self.rate
