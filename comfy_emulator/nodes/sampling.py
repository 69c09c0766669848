"""Model, conditioning, latent and sampler nodes (core, LoRA, AnimateDiff, SVD).

Models are small dicts describing what was loaded; latents carry their size, batch, an
optional source picture and the notes VAEDecode draws onto each frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from comfy_emulator.media import render_frame, resize_frames
from comfy_emulator.nodes.base import NodeClass


def _latent(width: int, height: int, batch: int, source: np.ndarray | None = None) -> dict:
    return {
        "width": width,
        "height": height,
        "batch": batch,
        "source": source,
        "notes": [],
        "seed": 0,
        "shape": (batch, 4, height // 8, width // 8),
    }


def load_checkpoint(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """MODEL, CLIP, VAE descriptors for a checkpoint. A video (SVD) checkpoint has no text
    encoder: the real loader hands on CLIP None, and the first CLIPTextEncode fails."""
    name = i["ckpt_name"]
    model = {"ckpt": name, "loras": [], "motion": None, "guidance": None}
    clip = None if is_video_checkpoint(name) else {"ckpt": name, "loras": []}
    return (model, clip, {"vae": name}), None


def is_video_checkpoint(name: str) -> bool:
    """Whether a checkpoint file is a Stable Video Diffusion one (by its name, in here)."""
    return "svd" in name.lower()


def load_image_only_checkpoint(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """MODEL, CLIP_VISION, VAE for an SVD checkpoint."""
    name = i["ckpt_name"]
    model = {"ckpt": name, "loras": [], "motion": None, "guidance": None}
    return (model, {"clip_vision": name}, {"vae": name}), None


def _with_lora(thing: dict, name: str, strength: float) -> dict:
    return {**thing, "loras": [*thing.get("loras", []), f"{name}@{strength:g}"]}


def load_lora(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Patch model and clip with a LoRA."""
    model = _with_lora(i["model"], i["lora_name"], float(i["strength_model"]))
    clip = i["clip"] and _with_lora(i["clip"], i["lora_name"], float(i["strength_clip"]))
    return (model, clip), None


def load_lora_model_only(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Patch only the model with a LoRA."""
    return (_with_lora(i["model"], i["lora_name"], float(i["strength_model"])),), None


def encode_text(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """CONDITIONING remembering the text and the clip's LoRAs.

    :raises RuntimeError: without a clip (a checkpoint without a text encoder), as the real
        node does.
    """
    if i["clip"] is None:
        raise RuntimeError(NO_CLIP)
    return ({"text": i["text"], "loras": list(i["clip"].get("loras", []))},), None


NO_CLIP = (
    "ERROR: clip input is invalid: None\n\nIf the clip is from a checkpoint loader node "
    "your checkpoint does not contain a valid clip or text encoder model."
)


def empty_latent(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """An empty latent batch (EmptyLatentImage, ADE_EmptyLatentImageLarge)."""
    return (_latent(int(i["width"]), int(i["height"]), int(i["batch_size"])),), None


def repeat_latent(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Repeat a latent batch amount times."""
    src = i["samples"]
    amount = int(i["amount"])
    out = {**src, "batch": src["batch"] * amount, "notes": list(src["notes"])}
    if src.get("source") is not None:
        out["source"] = np.concatenate([src["source"]] * amount)
    out["shape"] = (out["batch"], 4, src["height"] // 8, src["width"] // 8)
    return (out,), None


def vae_encode(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """A latent that remembers the encoded pictures."""
    pixels = i["pixels"]
    batch, height, width = pixels.shape[:3]
    return (_latent(width, height, batch, source=pixels),), None


def vae_decode(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Draw one frame per latent: the sampler's notes, over the source picture if any."""
    lat = i["samples"]
    width, height, batch = lat["width"], lat["height"], lat["batch"]
    source = lat.get("source")
    frames = []
    for index in range(batch):
        base = None if source is None else source[index % len(source)]
        lines = list(lat["notes"]) + [f"{width}x{height}"]
        frames.append(render_frame(width, height, lines, index, batch, lat["seed"], base))
    return (np.stack(frames),), None


def ksample(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Sleep --step-seconds per step, reporting progress 1..steps and honouring interrupts."""
    steps = int(i["steps"])
    for step in range(1, steps + 1):
        ctx.sampler_step()
        ctx.progress(step, steps)
    model = i["model"]
    lat = i["latent_image"]
    positive = i["positive"]
    loras = sorted(set(model.get("loras", [])) | set(positive.get("loras", [])))
    notes = [
        f"prompt: {positive.get('text', '')}"[:120],
        f"seed {int(i['seed'])} steps {steps} cfg {float(i['cfg']):g} denoise "
        f"{float(i['denoise']):g}",
        f"ckpt: {model.get('ckpt')}",
        f"lora: {', '.join(loras) if loras else 'none'}",
    ]
    if model.get("motion"):
        notes.append(f"motion: {model['motion']} frames {lat['batch']}")
    if model.get("guidance"):
        notes.append(f"guidance: {model['guidance']}")
    if positive.get("svd"):
        notes.append(f"svd: {positive['svd']}")
    sampled = {**lat, "notes": notes, "seed": int(i["seed"])}
    return (sampled,), None


def animatediff_loader(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Gen1 loader: inject a motion model (and context options) into MODEL."""
    ctx_opts = i.get("context_options")
    motion = i["model_name"] + (f" ctx{ctx_opts['context_length']}" if ctx_opts else "")
    return ({**i["model"], "motion": motion},), None


def load_motion_model(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Gen2 motion model descriptor."""
    return ({"motion_model": i["model_name"]},), None


def apply_motion_model(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Gen2 M_MODELS from one motion model."""
    return ([i["motion_model"]["motion_model"]],), None


def evolved_sampling(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """Gen2: attach the motion models to MODEL."""
    m_models = i.get("m_models") or []
    motion = ", ".join(m_models) if m_models else None
    return ({**i["model"], "motion": motion},), None


def context_options(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """CONTEXT_OPTIONS descriptor."""
    return (
        {"context_length": int(i["context_length"]), "context_overlap": int(i["context_overlap"])},
    ), None


def svd_conditioning(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """positive, negative and a video_frames-long latent built from the init image."""
    width, height, frames = int(i["width"]), int(i["height"]), int(i["video_frames"])
    init = resize_frames(i["init_image"][:1], width, height)
    label = f"frames {frames} motion {int(i['motion_bucket_id'])} fps {int(i['fps'])}"
    cond = {"text": "", "loras": [], "svd": label}
    latent = _latent(width, height, frames, source=np.concatenate([init] * frames))
    return (cond, dict(cond), latent), None


def linear_cfg(ctx: Any, i: dict[str, Any]) -> tuple[tuple, None]:
    """VideoLinearCFGGuidance: note the min_cfg on the model."""
    return ({**i["model"], "guidance": f"linear min_cfg {float(i['min_cfg']):g}"},), None


SAMPLING_NODES = {
    "CheckpointLoaderSimple": NodeClass(load_checkpoint),
    "ImageOnlyCheckpointLoader": NodeClass(load_image_only_checkpoint),
    "LoraLoader": NodeClass(load_lora),
    "LoraLoaderModelOnly": NodeClass(load_lora_model_only),
    "CLIPTextEncode": NodeClass(encode_text),
    "EmptyLatentImage": NodeClass(empty_latent),
    "ADE_EmptyLatentImageLarge": NodeClass(empty_latent),
    "RepeatLatentBatch": NodeClass(repeat_latent),
    "VAEEncode": NodeClass(vae_encode),
    "VAEDecode": NodeClass(vae_decode),
    "KSampler": NodeClass(ksample),
    "ADE_AnimateDiffLoaderGen1": NodeClass(animatediff_loader),
    "ADE_LoadAnimateDiffModel": NodeClass(load_motion_model),
    "ADE_ApplyAnimateDiffModelSimple": NodeClass(apply_motion_model),
    "ADE_UseEvolvedSampling": NodeClass(evolved_sampling),
    "ADE_StandardStaticContextOptions": NodeClass(context_options),
    "ADE_StandardUniformContextOptions": NodeClass(context_options),
    "SVD_img2vid_Conditioning": NodeClass(svd_conditioning),
    "VideoLinearCFGGuidance": NodeClass(linear_cfg),
}
