"""What a running node sees: its identity, files, simulated time, progress and faults."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from comfy_emulator.catalog import Catalog
from comfy_emulator.errors import InterruptProcessing
from comfy_emulator.faults import Faults
from comfy_emulator.hub import Hub, frame_text
from comfy_emulator.progress import ProgressTracker
from comfy_emulator.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class NodeContext:
    """What a running node may use: files, timing, progress reporting and the interrupt flag."""

    node_id: str
    class_type: str
    prompt_id: str
    storage: Storage
    step_seconds: float
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    run: RunState
    catalog: Catalog

    def check_interrupt(self) -> None:
        """Raise when an interrupt is pending (what ComfyUI does at every progress update).

        :raises InterruptProcessing: when interrupted.
        """
        if self.run.interrupt.is_set():
            raise InterruptProcessing()

    def sampler_step(self) -> None:
        """Spend the simulated time of one sampling step (wakes early on interrupt)."""
        self.run.interrupt.wait(self.step_seconds)

    def progress(self, value: int, total: int, png: bytes | None = None) -> None:
        """A ProgressBar update: interrupt check, faults by step, then the messages.

        :raises InterruptProcessing: when interrupted.
        """
        self.check_interrupt()
        self.run.steps += 1
        faults = self.run.faults
        if faults.crash_step is not None and self.run.steps >= faults.crash_step:
            log.warning("fault: crashing the process at step %s", self.run.steps)
            os._exit(3)
        if faults.drop_step is not None and self.run.steps == faults.drop_step:
            log.warning("fault: dropping every websocket at step %s", self.run.steps)
            self.run.hub.drop_all()
        self.run.tracker.update(self.node_id, value, total, png)

    def send_text(self, text: str) -> None:
        """Binary progress text (type 3), broadcast like the real send_progress_text."""
        self.run.hub.send_binary(frame_text(self.node_id, text), None)


@dataclass
class RunState:
    """Mutable state of the prompt being executed."""

    hub: Hub
    tracker: ProgressTracker
    faults: Faults
    interrupt: threading.Event
    steps: int = 0
    executed: list[str] = field(default_factory=list)
