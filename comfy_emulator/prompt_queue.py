"""The prompt queue (a min-heap on number) and the in-memory history, as in 0.3.64."""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any

MAXIMUM_HISTORY_SIZE = 10000


class PromptQueue:
    """Pending heap, the running item and finished history; notifies on every change."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._mutex = threading.RLock()
        self._not_empty = threading.Condition(self._mutex)
        self._heap: list[tuple[Any, str, int, list]] = []
        self._seq = itertools.count()
        self._running: dict[int, list] = {}
        self._task_ids = itertools.count()
        self.history: dict[str, dict[str, Any]] = {}

    def put(self, item: list) -> None:
        """Queue [number, prompt_id, prompt, extra_data, outputs]."""
        with self._mutex:
            heapq.heappush(self._heap, (item[0], item[1], next(self._seq), item))
            self._on_change()
            self._not_empty.notify()

    def get(self, timeout: float | None = None) -> tuple[list, int] | None:
        """Take the lowest item and mark it running, or None after timeout."""
        with self._not_empty:
            while not self._heap:
                if not self._not_empty.wait(timeout=timeout):
                    return None
            item = heapq.heappop(self._heap)[3]
            task_id = next(self._task_ids)
            self._running[task_id] = copy.deepcopy(item)
            self._on_change()
            return item, task_id

    def task_done(self, task_id: int, result: dict[str, Any], status: dict[str, Any]) -> None:
        """Move a running item to history with its outputs and status."""
        with self._mutex:
            item = self._running.pop(task_id)
            if len(self.history) > MAXIMUM_HISTORY_SIZE:
                self.history.pop(next(iter(self.history)))
            entry = {"prompt": item, "outputs": {}, "status": copy.deepcopy(status)}
            entry.update(result)
            self.history[item[1]] = entry
            self._on_change()

    def remaining(self) -> int:
        """Pending plus running items."""
        with self._mutex:
            return len(self._heap) + len(self._running)

    def snapshot(self) -> tuple[list, list]:
        """(running items, pending heap array) deep-copied."""
        with self._mutex:
            running = [copy.deepcopy(x) for x in self._running.values()]
            pending = [copy.deepcopy(entry[3]) for entry in self._heap]
            return running, pending

    def running_ids(self) -> list[str]:
        """prompt_ids currently executing."""
        with self._mutex:
            return [item[1] for item in self._running.values()]

    def delete_pending(self, prompt_id: str) -> bool:
        """Remove the first pending item with that id; True when one was removed."""
        with self._mutex:
            for index, entry in enumerate(self._heap):
                if entry[1] == prompt_id:
                    self._heap.pop(index)
                    heapq.heapify(self._heap)
                    self._on_change()
                    return True
            return False

    def wipe(self) -> None:
        """Drop every pending item."""
        with self._mutex:
            self._heap = []
            self._on_change()

    def get_history(
        self, prompt_id: str | None = None, max_items: int | None = None, offset: int = -1
    ) -> dict[str, Any]:
        """History like the real get_history (max_items / offset semantics included)."""
        with self._mutex:
            if prompt_id is not None:
                if prompt_id in self.history:
                    return {prompt_id: copy.deepcopy(self.history[prompt_id])}
                return {}
            out: dict[str, Any] = {}
            if offset < 0 and max_items is not None:
                offset = len(self.history) - max_items
            for index, key in enumerate(self.history):
                if index >= offset:
                    out[key] = copy.deepcopy(self.history[key])
                    if max_items is not None and len(out) >= max_items:
                        break
            return out

    def delete_history(self, prompt_id: str) -> None:
        """Forget one history entry."""
        with self._mutex:
            self.history.pop(prompt_id, None)

    def wipe_history(self) -> None:
        """Forget all history."""
        with self._mutex:
            self.history = {}
