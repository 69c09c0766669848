"""Relays a stage's ComfyUI events onto the progress bus, throttled (the sink coalesces)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from shared.models import Status
from shared.progress import ProgressBus, failure_fields
from workers.comfyui import Event, NodeExecuting, StepProgress

MIN_INTERVAL_S = 0.2


class ProgressRelay:
    """Stage events of one stage attempt; publishing never blocks or fails the stage."""

    def __init__(
        self, bus: ProgressBus, job_id: int, run_id: int, scene_id: int | None, stage: str
    ) -> None:
        self.bus = bus
        self.job_id = job_id
        self.run_id = run_id
        self.scene_id = scene_id
        self.stage = stage
        # The GPU node running the attempt, once it is placed (None for CPU stages).
        self.backend: str | None = None
        self._last = 0.0
        self._node: str | None = None
        self._progress = 0.0

    def publish(self, status: str, **fields) -> None:
        """One stage event."""
        self.bus.stage_event(
            self.job_id,
            stage_id=self.run_id,
            scene_id=self.scene_id,
            stage=self.stage,
            status=status,
            backend=self.backend,
            **fields,
        )

    def started(self) -> None:
        """The stage began running."""
        self.publish(Status.RUNNING.value, progress=0.0)

    def on_event(self, event: Event) -> None:
        """ComfyUI client callback: node changes and sampler steps."""
        if isinstance(event, NodeExecuting):
            self._node = event.node
            self.publish(Status.RUNNING.value, node=event.node, progress=self._progress)
        elif isinstance(event, StepProgress) and event.max:
            now = time.monotonic()
            self._progress = max(self._progress, min(0.99, event.value / event.max))
            if event.value >= event.max or now - self._last >= MIN_INTERVAL_S:
                self._last = now
                self.publish(
                    Status.RUNNING.value,
                    step=event.value,
                    max=event.max,
                    node=event.node,
                    progress=self._progress,
                )

    def finished(self, status: Status) -> None:
        """The attempt ended (succeeded, cancelled, or waiting to be tried again)."""
        self.publish(status.value, progress=1.0 if status is Status.SUCCEEDED else None)

    def failed(
        self,
        message: str,
        detail: Mapping[str, Any] | None,
        skipped: list[tuple[int, int | None, str]],
    ) -> None:
        """The stage failed for good: it, the stages it skipped, and its job, at once."""
        failure = failure_fields(message, detail)
        self.publish(Status.FAILED.value, failure=failure)
        for run_id, scene_id, stage in skipped:
            self.bus.stage_event(
                self.job_id,
                stage_id=run_id,
                scene_id=scene_id,
                stage=stage,
                status=Status.SKIPPED.value,
            )
        self.bus.job_event(
            self.job_id,
            status=Status.FAILED.value,
            failure={**failure, "error": f"{self.stage} failed: {message}"},
        )
