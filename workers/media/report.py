"""QC plans and reports: what an episode must be, and what the checks found."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from shared.errors import PermanentError


@dataclass(frozen=True)
class QcScene:
    """Where a scene (or card) should show in the episode, and the clip it came from."""

    index: int
    source: str
    start_s: float
    end_s: float
    head_s: float = 0.0
    tail_s: float = 0.0
    kind: str = "scene"


@dataclass(frozen=True)
class QcPlan:
    """What the episode must be, and the thresholds it is held to."""

    duration_s: float
    fps: float
    width: int
    height: int
    scenes: tuple[QcScene, ...]
    duration_tolerance_s: float = 0.1
    max_black_s: float = 0.5
    max_freeze_s: float = 2.0
    freeze_noise_db: float = -60.0
    expect_audio: bool = True
    signatures_per_scene: int = 3
    match_threshold: float = 12.0


@dataclass(frozen=True)
class QcCheck:
    """One check's verdict; failures say what is wrong and where (scene index, time)."""

    name: str
    passed: bool
    message: str
    scene_index: int | None = None
    at_s: float | None = None


@dataclass(frozen=True)
class QcReport:
    """All checks of one episode file; JSON-able with to_dict()."""

    path: str
    passed: bool
    checks: tuple[QcCheck, ...]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> tuple[QcCheck, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form to store with the episode."""
        return asdict(self)

    def raise_if_failed(self) -> QcReport:
        """Return self when every check passed.

        :raises QcFailed: carrying this report otherwise.
        """
        if not self.passed:
            raise QcFailed(self)
        return self


class QcFailed(PermanentError):
    """An episode failed quality control; `report` says what and where."""

    code = "qc_failed"

    def __init__(self, report: QcReport) -> None:
        summary = "; ".join(c.message for c in report.failures[:5])
        super().__init__(f"episode failed QC: {summary}", fields={"report": report.path})
        self.report = report
