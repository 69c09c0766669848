"""Execution order: ComfyUI's ExecutionList with its ux_friendly_pick_node heuristic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from comfy_emulator.catalog import Catalog
from comfy_emulator.checks import is_link


class ExecutionList:
    """Pending nodes in discovery order, with block counts from their uncached inputs."""

    def __init__(
        self, prompt: dict[str, Any], catalog: Catalog, is_cached: Callable[[str], bool]
    ) -> None:
        self.prompt = prompt
        self.catalog = catalog
        self.is_cached = is_cached
        self.pending: dict[str, bool] = {}
        self.block_count: dict[str, int] = {}
        self.blocking: dict[str, dict[str, bool]] = {}

    def add_node(self, node_id: str) -> None:
        """Stage a node and, depth first, every uncached ancestor it needs."""
        stack = [node_id]
        links: list[tuple[str, str]] = []
        while stack:
            unique_id = stack.pop()
            if unique_id in self.pending:
                continue
            self.pending[unique_id] = True
            self.block_count[unique_id] = 0
            self.blocking[unique_id] = {}
            for value in self.prompt[unique_id]["inputs"].values():
                if is_link(value):
                    if not self.is_cached(value[0]):
                        stack.append(value[0])
                    links.append((value[0], unique_id))
        for source, target in links:
            if not self.is_cached(source) and target not in self.blocking[source]:
                self.blocking[source][target] = True
                self.block_count[target] += 1

    def is_empty(self) -> bool:
        """True when nothing is left to run."""
        return not self.pending

    def stage_next(self) -> str:
        """Pick the next ready node like the real server does.

        :raises RuntimeError: on a dependency cycle.
        """
        ready = [n for n in self.pending if self.block_count[n] == 0]
        if not ready:
            raise RuntimeError("dependency cycle detected")
        return self._pick(ready)

    def _is_output(self, node_id: str) -> bool:
        return self.catalog.is_output(self.prompt[node_id]["class_type"])

    def _pick(self, ready: list[str]) -> str:
        for node_id in ready:
            if self._is_output(node_id):
                return node_id
        for node_id in ready:
            if any(self._is_output(b) for b in self.blocking[node_id]):
                return node_id
        for node_id in ready:
            for blocked in self.blocking[node_id]:
                if any(self._is_output(b) for b in self.blocking[blocked]):
                    return node_id
        return ready[0]

    def complete(self, node_id: str) -> None:
        """Mark a node done and unblock the nodes waiting for it."""
        self.pending.pop(node_id, None)
        for target in self.blocking.pop(node_id, {}):
            self.block_count[target] -= 1
