"""The emulated server's model inventory: folder name -> list of model file names."""

from __future__ import annotations

import json
from pathlib import Path

# The folders a real 0.3.64 server with the three packs lists at GET /models (recorded).
MODEL_FOLDERS = [
    "checkpoints",
    "configs",
    "loras",
    "vae",
    "text_encoders",
    "diffusion_models",
    "clip_vision",
    "style_models",
    "embeddings",
    "diffusers",
    "vae_approx",
    "controlnet",
    "gligen",
    "upscale_models",
    "custom_nodes",
    "hypernetworks",
    "photomaker",
    "classifiers",
    "model_patches",
    "audio_encoders",
    "animatediff_models",
    "animatediff_motion_lora",
    "animatediff_video_formats",
    "VHS_video_formats",
]

# Model names of the reference workflows (shared/fixtures/comfyui/workflows) plus a few LoRAs.
DEFAULT_MODELS: dict[str, list[str]] = {
    "checkpoints": ["svd_xt.safetensors", "v1-5-pruned-emaonly.safetensors"],
    "loras": [
        "character_v1.safetensors",
        "character_v2.safetensors",
        "hero_a.safetensors",
        "hero_b.safetensors",
        "villain.safetensors",
    ],
    "animatediff_models": ["mm_sd_v15_v2.ckpt"],
    "vae": ["vae-ft-mse-840000-ema-pruned.safetensors"],
    "clip_vision": [],
    # On disk (the pack lists every RIFE checkpoint, and fails offline on the others).
    "rife": ["rife47.pth"],
    "upscale_models": ["RealESRGAN_x2plus.pth", "RealESRGAN_x4plus.pth"],
}


class InventoryError(ValueError):
    """The --models file is not a JSON object of folder -> list of names."""


def load_inventory(path: Path | None) -> dict[str, list[str]]:
    """Read a --models JSON file, or return the default inventory.

    :raises InventoryError: when the file is not an object of string lists.
    """
    if path is None:
        return {folder: list(names) for folder, names in DEFAULT_MODELS.items()}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return parse_inventory(data)


def parse_inventory(data: object) -> dict[str, list[str]]:
    """Check and normalise an inventory object (sorted names, like the real listing).

    :raises InventoryError: when the shape is wrong.
    """
    if not isinstance(data, dict):
        raise InventoryError("models must be a JSON object: folder -> list of file names")
    out: dict[str, list[str]] = {}
    for folder, names in data.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InventoryError(f"models[{folder!r}] must be a list of strings")
        out[str(folder)] = sorted(names)
    return out


# Inventory folders the server does not list: a node pack's own checkpoint folder.
PACK_FOLDERS = ("rife",)


def list_folders(inventory: dict[str, list[str]]) -> list[str]:
    """Folder names for GET /models: the real list plus any extra inventory folders (but not a
    pack's own, which the real /models does not know)."""
    extra = [f for f in inventory if f not in MODEL_FOLDERS and f not in PACK_FOLDERS]
    return MODEL_FOLDERS + extra
