"""The classic output cache: node signatures, and entries kept only for the latest prompt."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from comfy_emulator.checks import is_link

log = logging.getLogger(__name__)


@dataclass
class CacheEntry:
    """A node's outputs and its UI dict ({"output": ..., "meta": ...}) or None."""

    outputs: tuple
    ui: dict[str, Any] | None


class OutputCache:
    """Signature -> entry; signature = class + IS_CHANGED + constants + ancestors' signatures."""

    def __init__(self) -> None:
        self._entries: dict[str, CacheEntry] = {}
        self._keys: dict[str, str] = {}

    def set_prompt(self, prompt: dict[str, Any], is_changed: Callable[[str], Any]) -> None:
        """Compute every node's signature for a new prompt and drop unused entries."""
        self._keys = {}
        for node_id in prompt:
            self._signature(prompt, node_id, is_changed, set())
        used = set(self._keys.values())
        for key in list(self._entries):
            if key not in used:
                del self._entries[key]

    def _signature(self, prompt: dict, node_id: str, is_changed: Callable, seen: set) -> str:
        if node_id in self._keys:
            return self._keys[node_id]
        node = prompt.get(node_id)
        if node is None or node_id in seen:
            return "missing:" + str(node_id)
        seen = seen | {node_id}
        parts: list[Any] = [node.get("class_type"), _safe(is_changed, node_id)]
        inputs = node.get("inputs", {})
        for name in sorted(inputs):
            value = inputs[name]
            if is_link(value):
                parent = self._signature(prompt, value[0], is_changed, seen)
                parts.append([name, "link", parent, value[1]])
            else:
                parts.append([name, value])
        key = json.dumps(parts, sort_keys=True, default=repr)
        self._keys[node_id] = key
        return key

    def get(self, node_id: str) -> CacheEntry | None:
        """The cached entry for a node of the current prompt, if any."""
        key = self._keys.get(node_id)
        return None if key is None else self._entries.get(key)

    def put(self, node_id: str, entry: CacheEntry) -> None:
        """Store a node's result under its current signature."""
        key = self._keys.get(node_id)
        if key is not None:
            self._entries[key] = entry

    def node_ids(self) -> list[str]:
        """Node ids of the current prompt (the server's current_outputs)."""
        return list(self._keys)

    def clear(self) -> None:
        """Forget everything (POST /free with free_memory)."""
        self._entries.clear()


def _safe(is_changed: Callable[[str], Any], node_id: str) -> Any:
    try:
        return is_changed(node_id)
    except Exception as exc:  # noqa: BLE001 - the real IsChangedCache also swallows these
        log.info("IS_CHANGED failed node=%s error=%s", node_id, exc)
        return str(uuid.uuid4())
