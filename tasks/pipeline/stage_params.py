"""What each stage's row asks of its workflow: the parameters planning writes per stage and the
sampling work its progress is weighed by. The one place that knows each stage's parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.models import Character, Episode, Project, Scene
from shared.settings_store import get_setting
from tasks.pipeline.render_options import RenderOptions


@dataclass(frozen=True)
class Subject:
    """What a stage row renders: a scene of an episode (or a character's sheet) with the job's
    options."""

    project: Project
    episode: Episode | None
    scene: Scene | None
    opts: RenderOptions
    character: Character | None = None

    @property
    def size(self) -> tuple[int | None, int | None]:
        """The image size: the options', else the episode's."""
        if self.episode is None:
            return self.opts.width, self.opts.height
        return self.opts.width or self.episode.width, self.opts.height or self.episode.height

    @property
    def clip_size(self) -> tuple[int | None, int | None]:
        """The size of the scene's final clip: the image size, upscaled when the options ask."""
        width, height = self.size
        upscale = self.opts.upscale
        if not upscale or not width or not height:
            return width, height
        if "factor" in upscale:
            return to_8(width * upscale["factor"]), to_8(height * upscale["factor"])
        return to_8(width * upscale["height"] / height), upscale["height"]

    @property
    def frames(self) -> int:
        """Frames of the scene's animation at the options' rate."""
        if self.opts.frames:
            return self.opts.frames
        cap = get_setting("render_max_frames")
        return max(2, min(cap, round(self.scene.duration_s * self.opts.fps)))

    @property
    def characters(self) -> list[Character]:
        """The characters it shows."""
        if self.character is not None:
            return [self.character]
        return list(self.scene.characters) if self.scene is not None else []


@dataclass(frozen=True)
class Planned:
    """One row's workflow template, parameters and sampling work (steps x frames)."""

    template: str | None
    params: dict[str, Any]
    steps: int = 1
    frames: int = 1
    # Whether the job's `checkpoint` option (an image model) applies; a video model's
    # workflow keeps its own checkpoint.
    image_checkpoint: bool = True


def to_8(value: float) -> int:
    """A pixel size rounded to a multiple of 8 (what encoders and latents want)."""
    return max(8, round(value / 8) * 8)


def seed_of(subject: Subject) -> int:
    """The scene's seed, else the options', else one derived from the row it renders."""
    if subject.scene is not None and subject.scene.seed is not None:
        return subject.scene.seed
    if subject.opts.seed is not None:
        return subject.opts.seed
    anchor = subject.scene.id if subject.scene is not None else subject.character.id
    return (anchor * 7919) % (2**32)


def character_params(characters: list[Character]) -> dict[str, Any]:
    """Trigger words and LoRAs of the characters shown."""
    return {
        "trigger_words": [
            w.strip() for c in characters for w in c.trigger_words.split(",") if w.strip()
        ],
        "loras": [
            {"name": c.lora_name, "strength": c.lora_strength} for c in characters if c.lora_name
        ],
    }


def styled(project: Project, text: str) -> str:
    """A prompt in the project's style."""
    return f"{project.style}, {text}" if project.style else text


def keyframe(subject: Subject) -> Planned:
    """Text to image: the scene (or the character's reference sheet) in the project's style."""
    opts, scene, character = subject.opts, subject.scene, subject.character
    if character is not None:
        text = (
            f"{character.name}, {character.description}, character reference sheet, "
            "full body, front view, side view, back view, plain background"
        )
    else:
        text = scene.prompt
    params = {
        "seed": seed_of(subject),
        "steps": opts.steps,
        **character_params(subject.characters),
        "prompt": styled(subject.project, text),
    }
    width, height = subject.size
    if width:
        params |= {"width": width, "height": height or width}
    if scene is not None and scene.negative_prompt:
        params["negative_prompt"] = scene.negative_prompt
    return Planned("keyframe", params, steps=opts.steps)


def animate(subject: Subject) -> Planned:
    """The keyframe animated (AnimateDiff with the scene's motion, or SVD)."""
    opts, scene = subject.opts, subject.scene
    width, height = subject.size
    frames = subject.frames
    params = {
        "seed": seed_of(subject),
        "steps": opts.steps,
        "frames": frames,
        "fps": opts.fps,
        "width": width,
        "height": height,
    }
    if opts.engine == "svd":
        return Planned(
            "animate_svd", params, steps=opts.steps, frames=frames, image_checkpoint=False
        )
    params |= {
        **character_params(subject.characters),
        "prompt": styled(subject.project, f"{scene.prompt}, {scene.motion}".strip(", ")),
    }
    return Planned("animate", params, steps=opts.steps, frames=frames)


def interpolate(subject: Subject) -> Planned:
    """RIFE in-betweens at the options' multiplier."""
    opts = subject.opts
    return Planned(
        "interpolate",
        {"multiplier": opts.multiplier, "fps": opts.fps},
        frames=subject.frames * opts.multiplier,
    )


def upscale(subject: Subject) -> Planned:
    """The interpolated frames at the final clip size: by an upscale model when the options name
    one, else by resampling."""
    opts = subject.opts
    width, height = subject.clip_size
    params = {"width": width, "height": height, "fps": opts.fps * opts.multiplier}
    if opts.upscale.get("method"):
        params["method"] = opts.upscale["method"]
    frames = subject.frames * opts.multiplier
    if opts.upscale.get("model"):
        return Planned("upscale_model", {**params, "model": opts.upscale["model"]}, frames=frames)
    return Planned("upscale", params, frames=frames)


def compile_(subject: Subject) -> Planned:
    """The episode's rate and the size of its scenes' final clips."""
    width, height = subject.clip_size
    return Planned(
        None, {"fps": subject.opts.fps * subject.opts.multiplier, "width": width, "height": height}
    )


def mix(subject: Subject) -> Planned:
    """The mix reads everything from the compiled episode and the scenes."""
    return Planned(None, {})


PLANNERS: dict[str, Callable[[Subject], Planned]] = {
    "keyframe": keyframe,
    "animate": animate,
    "interpolate": interpolate,
    "upscale": upscale,
    "compile": compile_,
    "mix": mix,
}
