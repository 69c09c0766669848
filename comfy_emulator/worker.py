"""The prompt worker thread: takes one prompt at a time off the queue and executes it."""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from typing import Any

from comfy_emulator.executor import Executor
from comfy_emulator.faults import Faults, FaultSpecError, parse_faults, spend_budgets
from comfy_emulator.hub import Hub
from comfy_emulator.prompt_queue import PromptQueue

log = logging.getLogger(__name__)


class Stats:
    """Per prompt_id counters for GET /emulator/stats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.prompts: dict[str, dict[str, int]] = defaultdict(
            lambda: {"submitted": 0, "rejected": 0, "executed": 0}
        )

    def count(self, prompt_id: str, field: str) -> None:
        """Add one to a counter."""
        with self._lock:
            self.prompts[prompt_id][field] += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        with self._lock:
            return {pid: dict(c) for pid, c in self.prompts.items()}


class PromptWorker:
    """Runs queued prompts in a daemon thread, writing history and the closing messages."""

    def __init__(
        self, queue: PromptQueue, executor: Executor, hub: Hub, faults: Faults, stats: Stats
    ) -> None:
        self.queue = queue
        self.executor = executor
        self.fired: Counter = Counter()  # per-prompt fault items with a budget, by item
        self.hub = hub
        self.faults = faults
        self.stats = stats
        self._thread = threading.Thread(target=self._loop, name="prompt-worker", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def _loop(self) -> None:
        while True:
            got = self.queue.get(timeout=1000.0)
            if got is None:
                continue
            item, task_id = got
            try:
                self._run(item, task_id)
            except Exception:  # noqa: BLE001 - a bug here must not kill the worker thread
                log.exception("worker failed prompt_id=%s", item[1])

    def _run(self, item: list, task_id: int) -> None:
        number, prompt_id, prompt, extra_data, outputs = item
        self.stats.count(prompt_id, "executed")
        faults = self.faults
        try:
            own = spend_budgets(extra_data.get("emulator_fault"), self.fired)
            faults = faults.merged(parse_faults(own))
        except FaultSpecError as exc:
            log.warning("ignoring bad emulator_fault prompt_id=%s error=%s", prompt_id, exc)
        try:
            result = self.executor.execute(prompt, prompt_id, dict(extra_data), outputs, faults)
            success = self.executor.success
        except Exception:  # noqa: BLE001 - an emulator bug must still end the prompt
            log.exception("executor failed prompt_id=%s", prompt_id)
            result, success = {"outputs": {}, "meta": {}}, False
        status = {
            "status_str": "success" if success else "error",
            "completed": success,
            "messages": self.executor.status_messages,
        }
        self.queue.task_done(task_id, result, status)
        client_id = extra_data.get("client_id")
        if client_id is not None:
            self.hub.send("executing", {"node": None, "prompt_id": prompt_id}, client_id)
        log.info("prompt done prompt_id=%s status=%s", prompt_id, status["status_str"])
