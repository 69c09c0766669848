"""The model a real ComfyUI keeps loaded: a prompt whose checkpoint (or motion module) differs
from the one loaded last pays a load time (`--model-load-seconds`), counted for the bench."""

from __future__ import annotations

import threading
from typing import Any

# Loader class -> (input naming the file, what it loads); one loaded model of each kind.
LOADERS = {
    "CheckpointLoaderSimple": ("ckpt_name", "checkpoint"),
    "CheckpointLoader": ("ckpt_name", "checkpoint"),
    "ImageOnlyCheckpointLoader": ("ckpt_name", "checkpoint"),
    "ADE_AnimateDiffLoaderGen1": ("model_name", "motion_module"),
    "ADE_LoadAnimateDiffModel": ("model_name", "motion_module"),
}


def wanted_models(prompt: dict[str, Any]) -> dict[str, str]:
    """The checkpoint and motion module a prompt loads (by kind), as far as it names them."""
    wanted = {}
    for node in prompt.values():
        loader = LOADERS.get(node.get("class_type"))
        value = (node.get("inputs") or {}).get(loader[0]) if loader else None
        if isinstance(value, str):
            wanted[loader[1]] = value
    return wanted


class LoadedModels:
    """What is loaded now, and how many loads (and seconds) switching has cost so far."""

    def __init__(self, load_seconds: float) -> None:
        self.load_seconds = load_seconds
        self.loaded: dict[str, str] = {}
        self.loads = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def load_for(self, prompt: dict[str, Any], interrupt: threading.Event) -> None:
        """Load what the prompt needs and is not loaded, taking the load time for each."""
        wanted = wanted_models(prompt)
        with self._lock:
            changed = [kind for kind, name in wanted.items() if self.loaded.get(kind) != name]
            self.loaded.update(wanted)
            self.loads += len(changed)
            self.seconds += self.load_seconds * len(changed)
        if changed and self.load_seconds > 0:
            interrupt.wait(self.load_seconds * len(changed))

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy for /emulator/stats."""
        with self._lock:
            return {"loaded": dict(self.loaded), "loads": self.loads, "seconds": self.seconds}
