"""What each stage's row asks of its workflow: the parameters planning writes per stage and the
sampling work its progress is weighed by. The one place that knows each stage's parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.models import Character, Episode, Project, Scene
from tasks.pipeline.episode_format import animate_frames, bridge_frames, final_frames
from tasks.pipeline.render_options import RenderOptions

# SVD has no context windows: a longer scene renders as segments of this many frames (its
# native length) unless `options.frames` says otherwise.
SVD_SEGMENT_FRAMES = 25
# An upscale whose target is the episode's height renders at this share of it by default.
UPSCALE_HEIGHT_SHARE = 2
# How far a referenced keyframe departs from the character's sheet (1.0 would ignore it).
REFERENCE_DENOISE = 0.55


@dataclass(frozen=True)
class Subject:
    """What a stage row renders: a scene of an episode (or a character's sheet) with the job's
    options."""

    project: Project
    episode: Episode | None
    scene: Scene | None
    opts: RenderOptions
    character: Character | None = None
    next_scene: Scene | None = None  # a pair's second scene (a generated bridge's end)

    @property
    def size(self) -> tuple[int | None, int | None]:
        """The size images are rendered at: the episode's (latents want multiples of 8), or
        with upscale the options' or the episode's divided by the upscale."""
        opts, episode = self.opts, self.episode
        if episode is None:
            return opts.width, opts.height
        if not opts.upscale:
            return to_8(episode.width), to_8(episode.height)
        share = opts.upscale.get("factor", UPSCALE_HEIGHT_SHARE)
        return (
            opts.width or to_8(episode.width / share),
            opts.height or to_8(episode.height / share),
        )

    @property
    def clip_size(self) -> tuple[int | None, int | None]:
        """The size of the scene's final clip: the episode's."""
        if self.episode is None:
            return self.size
        return self.episode.width, self.episode.height

    @property
    def fps(self) -> int:
        """The rate a scene animates at: the episode's divided by the interpolation."""
        if self.episode is None:
            return self.opts.fps
        return self.episode.fps // self.opts.multiplier

    @property
    def final_frames(self) -> int:
        """Frames of the scene's finished clip at the episode's rate."""
        return final_frames(self.scene.duration_s, self.episode.fps)

    @property
    def frames(self) -> int:
        """Frames the scene animates (its whole length; interpolation fills the rate)."""
        return animate_frames(self.scene.duration_s, self.episode.fps, self.opts.multiplier)

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
    # Frames of each consecutive segment, when the stage renders as several (one row each).
    segments: tuple[int, ...] = ()
    # The asset its workflow starts from (a character's reference sheet), if any.
    reference_asset_id: int | None = None


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
    reference = reference_of(subject)
    if reference is not None:
        params["denoise"] = REFERENCE_DENOISE
        return Planned("keyframe_ref", params, steps=opts.steps, reference_asset_id=reference)
    return Planned("keyframe", params, steps=opts.steps)


def reference_of(subject: Subject) -> int | None:
    """The reference sheet a scene's keyframe starts from: when the job asks for references
    and the scene shows exactly one character, and that character has a sheet."""
    if not subject.opts.use_references or subject.scene is None:
        return None
    characters = subject.characters
    if len(characters) != 1:
        return None
    return characters[0].reference_asset_id


def animate(subject: Subject) -> Planned:
    """The keyframe animated over the scene's whole length (AnimateDiff in sliding context
    windows of `options.frames`, or SVD)."""
    opts, scene = subject.opts, subject.scene
    width, height = subject.size
    frames = subject.frames
    params = {
        "seed": seed_of(subject),
        "steps": opts.steps,
        "frames": frames,
        "fps": subject.fps,
        "width": width,
        "height": height,
    }
    if opts.engine == "svd":
        pieces = segment_frames(frames, opts.frames or SVD_SEGMENT_FRAMES)
        return Planned(
            "animate_svd",
            params,
            steps=opts.steps,
            frames=frames,
            image_checkpoint=False,
            segments=pieces if len(pieces) > 1 else (),
        )
    params |= {
        **character_params(subject.characters),
        "prompt": styled(subject.project, f"{scene.prompt}, {scene.motion}".strip(", ")),
    }
    if opts.frames:
        # The window, not the length; windows overlap by a quarter (at most the default 4).
        params |= {"context_length": opts.frames, "context_overlap": min(4, opts.frames // 4)}
    return Planned("animate", params, steps=opts.steps, frames=frames)


def segment_frames(frames: int, length: int) -> tuple[int, ...]:
    """Frames each segment renders so that together they make `frames`: the first `length`,
    each next one starting from the previous one's last frame (dropped when joined)."""
    pieces, left = [min(frames, length)], frames - min(frames, length)
    while left > 0:
        new = min(length - 1, left)
        pieces.append(new + 1)
        left -= new
    return tuple(pieces)


def interpolate(subject: Subject) -> Planned:
    """RIFE in-betweens at the options' multiplier, cut to the scene's finished length."""
    opts, frames = subject.opts, subject.final_frames
    params = {"multiplier": opts.multiplier, "fps": subject.fps, "frames": frames}
    return Planned("interpolate", params, frames=frames)


def upscale(subject: Subject) -> Planned:
    """The interpolated frames at the episode's size: by an upscale model when the options
    name one, else by resampling."""
    opts = subject.opts
    width, height = subject.clip_size
    params = {"width": width, "height": height, "fps": subject.episode.fps}
    if opts.upscale.get("method"):
        params["method"] = opts.upscale["method"]
    frames = subject.final_frames
    if opts.upscale.get("model"):
        return Planned("upscale_model", {**params, "model": opts.upscale["model"]}, frames=frames)
    return Planned("upscale", params, frames=frames)


def bridge(subject: Subject) -> Planned:
    """A RIFE morph from the scene's last frame to the next one's first, as long as the scene's
    transition: RIFE makes multiplier + 1 frames from the two, and the ends are dropped."""
    episode = subject.episode
    frames = bridge_frames(subject.scene.transition_s, episode.fps)
    params = {"frames": frames, "multiplier": frames + 1, "fps": episode.fps}
    return Planned("bridge", params, frames=frames, image_checkpoint=False)


def compile_(subject: Subject) -> Planned:
    """The episode's own rate and size."""
    episode = subject.episode
    return Planned(None, {"fps": episode.fps, "width": episode.width, "height": episode.height})


def mix(subject: Subject) -> Planned:
    """The mix reads everything from the compiled episode and the scenes."""
    return Planned(None, {})


PLANNERS: dict[str, Callable[[Subject], Planned]] = {
    "keyframe": keyframe,
    "animate": animate,
    "interpolate": interpolate,
    "upscale": upscale,
    "bridge": bridge,
    "compile": compile_,
    "mix": mix,
}
