"""Relays a stage's ComfyUI events onto the progress bus, throttled (the sink coalesces)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.models import Status
from shared.progress import ProgressBus, failure_fields
from workers.comfyui import Event, NodeExecuting, StepProgress

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.2


class Courier:
    """Publishes a process's running stage events from a thread of its own, in order, so
    following a prompt never waits on Redis; `drain` waits until everything sent is out."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], object]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="progress-courier", daemon=True)
        self._thread.start()

    def send(self, publish: Callable[[], object]) -> None:
        """Publish later, after everything sent before."""
        self._queue.put(publish)

    def drain(self) -> None:
        """Wait until everything sent so far is published."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            publish = self._queue.get()
            try:
                publish()  # the bus logs and drops what Redis refuses
            except Exception:  # noqa: BLE001 - a bug here must not stop later events
                log.exception("progress courier failed to publish")
            finally:
                self._queue.task_done()


_courier: tuple[int, Courier] | None = None


def courier() -> Courier:
    """This process's courier (a forked child starts its own)."""
    global _courier
    if _courier is None or _courier[0] != os.getpid():
        _courier = (os.getpid(), Courier())
    return _courier[1]


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
        """ComfyUI client callback: node changes and sampler steps, published by the courier
        (the follower reads the next frame meanwhile)."""
        if isinstance(event, NodeExecuting):
            self._node = event.node
            fields = {"node": event.node, "progress": self._progress}
            courier().send(lambda: self.publish(Status.RUNNING.value, **fields))
        elif isinstance(event, StepProgress) and event.max:
            now = time.monotonic()
            self._progress = max(self._progress, min(0.99, event.value / event.max))
            if event.value >= event.max or now - self._last >= MIN_INTERVAL_S:
                self._last = now
                fields = {
                    "step": event.value,
                    "max": event.max,
                    "node": event.node,
                    "progress": self._progress,
                }
                courier().send(lambda: self.publish(Status.RUNNING.value, **fields))

    def finished(self, status: Status) -> None:
        """The attempt ended (succeeded, cancelled, or waiting to be tried again); after its
        running events."""
        courier().drain()
        self.publish(status.value, progress=1.0 if status is Status.SUCCEEDED else None)

    def failed(
        self,
        message: str,
        detail: Mapping[str, Any] | None,
        skipped: list[tuple[int, int | None, str]],
    ) -> None:
        """The stage failed for good: it, the stages it skipped, and its job, at once."""
        failure = failure_fields(message, detail)
        courier().drain()
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
