"""Laying an episode's dialogue on its timeline: each line spoken, placed and subtitled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ValidationError
from workers.media.compiler import CompileResult
from workers.media.mixer import DialogueCue
from workers.media.speech import Speaker
from workers.media.subtitles import Subtitle

MIN_ON_SCREEN_S = 1.0  # a subtitle stays up at least this long, even for a short word


@dataclass(frozen=True)
class SceneLine:
    """A line spoken `at_s` seconds into scene `scene_index`."""

    scene_index: int
    at_s: float
    speaker: str
    voice: str
    text: str


def plan_dialogue(
    result: CompileResult, lines: Sequence[SceneLine], work: Path, speaker: Speaker
) -> tuple[list[DialogueCue], list[Subtitle]]:
    """Speak every line into `work` and place it (and its subtitle) at its episode time.

    :raises ValidationError: on an unknown scene or a time outside the scene.
    :raises PermanentError: when a line cannot be spoken (TransientError: not now).
    """
    scenes = [p for p in result.placements if p.kind == "scene"]
    cues, subtitles = [], []
    for i, line in enumerate(lines):
        if not 0 <= line.scene_index < len(scenes):
            raise ValidationError(
                f"line {i} names scene {line.scene_index}", fields={f"dialogue[{i}]": "no scene"}
            )
        scene = scenes[line.scene_index]
        if not 0 <= line.at_s < scene.end_s - scene.start_s:
            raise ValidationError(
                f"line {i} at {line.at_s} s is outside scene {line.scene_index}",
                fields={f"dialogue[{i}].at_s": "must fall inside the scene"},
            )
        start = scene.start_s + line.at_s
        path = work / f"line-{i:04d}.wav"
        spoken = speaker.speak(line.text, path, voice=line.voice)
        cues.append(DialogueCue(path, start))
        end = min(result.duration_s, start + max(spoken, MIN_ON_SCREEN_S))
        subtitles.append(Subtitle(start, end, line.speaker, line.text))
    subtitles.sort(key=lambda s: s.start_s)
    return cues, subtitles
