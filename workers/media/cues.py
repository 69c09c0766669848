"""Laying audio cues on an episode's timeline from its scenes: music by mood, effects by scene."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shared.errors import ValidationError
from workers.media.compiler import CompileResult, Placement
from workers.media.library import LibraryEntry, choose_cue, unknown_cue
from workers.media.mixer import MusicCue, SfxCue


@dataclass(frozen=True)
class SceneSfx:
    """An effect wanted `at_s` seconds into scene `scene_index`, named by tag or name."""

    scene_index: int
    at_s: float
    sound: str
    gain_db: float = 0.0


def plan_music(
    result: CompileResult, moods: Sequence[str], library: Sequence[LibraryEntry]
) -> list[MusicCue]:
    """One music cue per run of scenes whose moods pick the same loop.

    Boundaries fall in the middle of each transition, so the mixer's crossfade straddles
    the picture's transition; cards take the neighbouring scene's music.

    :raises ValidationError: when `moods` does not give one mood per scene, or names a mood
        the library does not know.
    :raises NotFoundError: when the library holds no music.
    """
    scenes = _scenes(result)
    if len(moods) != len(scenes):
        raise ValidationError(
            f"{len(moods)} moods for {len(scenes)} scenes", fields={"moods": "one per scene"}
        )
    cues: list[MusicCue] = []
    previous = ""
    for index, (scene, mood) in enumerate(zip(scenes, moods, strict=True)):
        check_known(library, mood, "music", f"scenes[{index}].mood")
        entry = choose_cue(library, mood)
        start = scene.start_s + scene.head_s / 2
        if cues and entry.path == previous:
            continue
        if cues:
            cues[-1] = replace(cues[-1], end_s=start)
        loop = {"loop_start_s": entry.loop_start_s, "loop_end_s": entry.loop_end_s}
        cues.append(MusicCue(entry.path, start, result.duration_s, **loop))
        previous = entry.path
    if cues:
        cues[0] = replace(cues[0], start_s=0.0)
    return cues


def plan_sfx(
    result: CompileResult, wanted: Sequence[SceneSfx], library: Sequence[LibraryEntry]
) -> list[SfxCue]:
    """Effects at episode times: each scene-relative time shifted by where the scene landed.

    :raises ValidationError: on an unknown scene, a time outside the scene or an effect the
        library does not know.
    """
    scenes = _scenes(result)
    cues = []
    for i, item in enumerate(wanted):
        if not 0 <= item.scene_index < len(scenes):
            raise ValidationError(
                f"effect {i} names scene {item.scene_index}", fields={f"sfx[{i}]": "no scene"}
            )
        scene = scenes[item.scene_index]
        if not 0 <= item.at_s < scene.end_s - scene.start_s:
            raise ValidationError(
                f"effect {i} at {item.at_s} s is outside scene {item.scene_index}",
                fields={f"sfx[{i}].at_s": "must fall inside the scene"},
            )
        check_known(library, item.sound, "sfx", f"sfx[{i}].name")
        entry = choose_cue(library, item.sound, kind="sfx")
        cues.append(SfxCue(entry.path, scene.start_s + item.at_s, item.gain_db))
    return cues


def check_known(library: Sequence[LibraryEntry], text: str, kind: str, field: str) -> None:
    """Refuse a mood or effect the library does not know, naming the field and the known ones.

    :raises ValidationError: when `text` names an unknown word.
    """
    problem = unknown_cue(library, text, kind)
    if problem:
        raise ValidationError(f"{field}: {problem}", fields={field: problem})


def _scenes(result: CompileResult) -> list[Placement]:
    return [p for p in result.placements if p.kind == "scene"]
