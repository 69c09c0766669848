"""Node class specs (/object_info): the real server's whole catalogue (ComfyUI 0.3.64 with the
AnimateDiff-Evolved, Frame-Interpolation and VideoHelperSuite packs), with live choice lists."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from comfy_emulator.storage import Storage

# Which combo input lists which inventory folder (the real server reads the model folders).
MODEL_INPUTS: dict[tuple[str, str], str] = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("ImageOnlyCheckpointLoader", "ckpt_name"): "checkpoints",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
    ("ADE_AnimateDiffLoaderGen1", "model_name"): "animatediff_models",
    ("ADE_LoadAnimateDiffModel", "model_name"): "animatediff_models",
    ("RIFE VFI", "ckpt_name"): "rife",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
}


def load_recorded_specs() -> dict[str, dict[str, Any]]:
    """Every class the real server offered, as its /object_info answered."""
    path = resources.files("comfy_emulator").joinpath("data", "object_info_full.json")
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class InputInfo:
    """One declared input: its type (str or option list), category and options dict."""

    input_type: Any
    category: str
    extra: dict[str, Any]
    raw: list[Any]


class Catalog:
    """Answers what a node class declares, with model and input-file lists filled live."""

    def __init__(
        self,
        inventory: dict[str, list[str]],
        storage: Storage,
        without: frozenset[str] = frozenset(),
    ) -> None:
        # `without`: classes of node packs that failed to load (the server never offers them).
        self._base = {k: v for k, v in load_recorded_specs().items() if k not in without}
        self._inventory = inventory
        self._storage = storage

    def has_class(self, class_type: str) -> bool:
        """True when the emulator offers this node class."""
        return isinstance(class_type, str) and class_type in self._base

    def class_names(self) -> list[str]:
        """Every node class name, in a stable order."""
        return sorted(self._base)

    def info(self, class_type: str) -> dict[str, Any]:
        """The /object_info entry for one class, with current choice lists."""
        spec = copy.deepcopy(self._base[class_type])
        for category in ("required", "optional"):
            for name, raw in spec["input"].get(category, {}).items():
                choices = self._live_choices(class_type, name)
                if choices is None:
                    continue
                if raw[0] == "COMBO":  # a V3 node lists its choices in the options dict
                    raw[1]["options"] = choices
                else:
                    raw[0] = choices
        return spec

    def has_model(self, folder: str, name: str) -> bool:
        """Whether a model file is really on disk (listed or not)."""
        return name in self._inventory.get(folder, [])

    def is_output(self, class_type: str) -> bool:
        """True for OUTPUT_NODE classes."""
        return bool(self._base[class_type].get("output_node"))

    def return_types(self, class_type: str) -> tuple[str, ...]:
        """The class's RETURN_TYPES."""
        return tuple(self._base[class_type]["output"])

    def hidden_inputs(self, class_type: str) -> list[str]:
        """Names of the hidden inputs (PROMPT, UNIQUE_ID, ...) the server fills in."""
        return list(self._base[class_type]["input"].get("hidden", {}))

    def declared_inputs(self, class_type: str) -> dict[str, InputInfo]:
        """Required then optional inputs, as validation sees them."""
        spec = self.info(class_type)
        out: dict[str, InputInfo] = {}
        for category in ("required", "optional"):
            for name, raw in spec["input"].get(category, {}).items():
                extra = raw[1] if len(raw) > 1 and isinstance(raw[1], dict) else {}
                out[name] = InputInfo(raw[0], category, extra, raw)
        return out

    def _live_choices(self, class_type: str, name: str) -> list[Any] | None:
        folder = MODEL_INPUTS.get((class_type, name))
        if folder == "rife":
            # The pack lists every checkpoint whether or not it is on disk (it downloads one on
            # first use); the inventory's "rife" folder says which are on disk.
            return None
        if folder is not None:
            return list(self._inventory.get(folder, []))
        if class_type == "LoadImage" and name == "image":
            return self._storage.list_input_images()
        if class_type == "VHS_LoadImages" and name == "directory":
            return self._storage.list_input_folders()
        if class_type == "VHS_LoadVideo" and name == "video":
            return self._storage.list_input_videos()
        return None
