"""Per-prompt node progress (the progress_state registry) and the messages it sends."""

from __future__ import annotations

from typing import Any

from comfy_emulator.hub import Hub, frame_preview, frame_preview_with_metadata


class ProgressTracker:
    """Tracks node states for one prompt and emits progress_state / progress / previews."""

    def __init__(self, hub: Hub, prompt_id: str) -> None:
        self.hub = hub
        self.prompt_id = prompt_id
        self.nodes: dict[str, dict[str, Any]] = {}

    def _entry(self, node_id: str) -> dict[str, Any]:
        return self.nodes.setdefault(node_id, {"state": "pending", "value": 0, "max": 1})

    def start(self, node_id: str) -> None:
        """A node begins: running, 0.0 of 1.0."""
        self.nodes[node_id] = {"state": "running", "value": 0.0, "max": 1.0}
        self._send_state()

    def finish(self, node_id: str) -> None:
        """A node ends (or is replayed from cache): finished, value = max."""
        entry = self._entry(node_id)
        entry["state"] = "finished"
        entry["value"] = entry["max"]
        self._send_state()

    def update(self, node_id: str, value: int, total: int, png: bytes | None) -> None:
        """A progress-bar update, in the real server's message order."""
        entry = self._entry(node_id)
        entry.update(state="running", value=value, max=total)
        sid = self.hub.client_id
        self._send_state()
        metadata = self.hub.supports_metadata(sid)
        if png is not None and metadata:
            meta = {
                "node_id": node_id,
                "prompt_id": self.prompt_id,
                "display_node_id": node_id,
                "parent_node_id": None,
                "real_node_id": node_id,
                "image_type": "image/png",
            }
            self.hub.send_binary(frame_preview_with_metadata(meta, png), sid)
        self.hub.send(
            "progress",
            {"value": value, "max": total, "prompt_id": self.prompt_id, "node": node_id},
            sid,
        )
        if png is not None and not metadata:
            self.hub.send_binary(frame_preview(2, png), sid)

    def _send_state(self) -> None:
        active = {
            node_id: {
                "value": e["value"],
                "max": e["max"],
                "state": e["state"],
                "node_id": node_id,
                "prompt_id": self.prompt_id,
                "display_node_id": node_id,
                "parent_node_id": None,
                "real_node_id": node_id,
            }
            for node_id, e in self.nodes.items()
            if e["state"] != "pending"
        }
        self.hub.send(
            "progress_state", {"prompt_id": self.prompt_id, "nodes": active}, self.hub.client_id
        )
