"""The episode's format and its scenes' lengths are what renders: the frame arithmetic from a
scene's duration to the frames each stage makes, and the checks that refuse render options,
scene lengths and sound cues that would not fit them (before any row is written)."""

from __future__ import annotations

import math
from typing import Any

from shared.errors import ValidationError
from shared.models import Episode, Scene, Transition
from tasks.pipeline.render_options import RenderOptions


def final_frames(duration_s: float, fps: int) -> int:
    """Frames of a scene's finished clip at the episode's rate (at least two)."""
    return max(2, round(duration_s * fps))


def rendered_seconds(duration_s: float, fps: int) -> float:
    """How long a scene's finished clip runs: whole frames at the episode's rate."""
    return final_frames(duration_s, fps) / fps


def animate_frames(duration_s: float, fps: int, multiplier: int) -> int:
    """Frames to animate so that interpolation by `multiplier` ((n - 1) * m + 1 frames) covers
    the finished clip; interpolation then cuts the few extra at the end."""
    return math.ceil((final_frames(duration_s, fps) - 1) / multiplier) + 1


def bridge_frames(transition_s: float, fps: int) -> int:
    """Frames of a generated bridge: its transition's length at the episode's rate."""
    return round(transition_s * fps)


def format_problems(opts: RenderOptions, episode: Episode, *, animated: bool) -> dict[str, str]:
    """Render options that contradict the episode's rate or size, each naming both fields.

    The episode runs at `episode.fps`: scenes animate at fps / multiplier and interpolation
    brings them up to it. Its clips come out at its size: without upscale the options may only
    repeat it; with upscale they are the size before upscaling, and the upscale's target is it.
    """
    problems: dict[str, str] = {}
    rate = opts.fps * opts.multiplier
    given = opts.explicit
    if animated and "fps" in given and rate != episode.fps:
        problems["options.fps"] = (
            f"{opts.fps} fps x{opts.multiplier} makes {rate} fps, but episode.fps is "
            f"{episode.fps}; leave options.fps out (it follows the episode)"
        )
        problems["episode.fps"] = f"{episode.fps} fps conflicts with options.fps {opts.fps}"
    elif animated and episode.fps % opts.multiplier:
        problems["episode.fps"] = (
            f"{episode.fps} fps is not a multiple of options.multiplier {opts.multiplier}"
        )
        problems["options.multiplier"] = f"x{opts.multiplier} cannot make {episode.fps} fps"
    if not opts.upscale:
        for name in ("width", "height"):
            wanted, own = getattr(opts, name), getattr(episode, name)
            if name in given and wanted != own:
                problems[f"options.{name}"] = (
                    f"{wanted} conflicts with episode.{name} {own}; leave it out (clips are "
                    "rendered at the episode's size)"
                )
                problems[f"episode.{name}"] = f"{own} conflicts with options.{name} {wanted}"
    elif "height" in opts.upscale and opts.upscale["height"] != episode.height:
        problems["options.upscale.height"] = (
            f"{opts.upscale['height']} conflicts with episode.height {episode.height} "
            "(the upscale's target is the episode's size)"
        )
        problems["episode.height"] = f"{episode.height} conflicts with options.upscale.height"
    return problems


def check_format(opts: RenderOptions, episode: Episode, *, animated: bool) -> None:
    """Refuse render options that contradict the episode.

    :raises ValidationError: naming the option and the episode's field.
    """
    problems = format_problems(opts, episode, animated=animated)
    if problems:
        raise ValidationError("render options conflict with the episode's format", fields=problems)


def cue_problems(
    duration_s: float, cues: list[dict[str, Any]], fps: int, *, prefix: str = ""
) -> dict[str, str]:
    """Sound cues that start at or after the end of the scene's rendered clip."""
    length = rendered_seconds(duration_s, fps)
    frames = final_frames(duration_s, fps)
    return {
        f"{prefix}sfx_cues.{i}.at_s": (
            f"starts at {cue['at_s']} s, but the scene renders {length:g} s "
            f"({frames} frames at the episode's {fps} fps)"
        )
        for i, cue in enumerate(cues or ())
        if float(cue.get("at_s", 0.0)) >= length
    }


def length_problem(duration_s: float, max_scene_s: float | None) -> str | None:
    """Why a scene of this length is refused by the farm's limit, or None."""
    if max_scene_s is not None and duration_s > max_scene_s:
        return f"{duration_s:g} s is longer than this farm's limit of {max_scene_s:g} s per scene"
    return None


def check_scenes(scenes: list[Scene], episode: Episode, max_scene_s: float | None) -> None:
    """Refuse scenes longer than the farm's limit, and sound cues past their rendered end.

    :raises ValidationError: naming `scenes.<order>.duration_s` or `...sfx_cues.<i>.at_s`.
    """
    fields: dict[str, Any] = {}
    for scene in scenes:
        if problem := length_problem(scene.duration_s, max_scene_s):
            fields[f"scenes.{scene.order}.duration_s"] = problem
        prefix = f"scenes.{scene.order}."
        fields |= cue_problems(scene.duration_s, scene.sfx_cues, episode.fps, prefix=prefix)
        if scene.transition == Transition.GENERATED and not bridge_frames(
            scene.transition_s, episode.fps
        ):
            fields[f"{prefix}transition_s"] = (
                f"a generated transition needs at least one frame (1/{episode.fps} s)"
            )
    if fields:
        raise ValidationError("scenes do not fit what renders", fields=fields)
