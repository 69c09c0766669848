"""The CPU stages of an episode: compile the scene clips, then mix and mux the audio.

Plain functions over paths and small dataclasses (no database, no Celery); the media work
itself is in workers.media.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import NotFoundError
from workers.gpu_stage import Artifact, media_facts
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.library import LibraryEntry, choose_cue
from workers.media.mixer import MusicCue, SfxCue, mix_episode
from workers.storage import LocalStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SceneClip:
    """One scene's finished clip and how the episode treats it."""

    path: Path
    transition: str = "cut"
    transition_s: float = 0.0
    mood: str = "calm"
    sfx: tuple[dict[str, Any], ...] = field(default=())
    label: str = ""


def compile_stage(clips: Sequence[SceneClip], store: LocalStore, key: str, *, fps: float,
                  width: int, height: int) -> Artifact:
    """Join the scene clips with their transitions into the episode video (no audio yet).

    :raises ValidationError: on no clips or a transition longer than a clip.
    :raises FfmpegError: when a clip cannot be read or encoded.
    """
    specs = [ClipSpec(path=c.path, transition=c.transition, transition_s=c.transition_s,
                      label=c.label) for c in clips]
    result = compile_episode(specs, store.path(key), fps=fps, width=width, height=height)
    facts = media_facts(result.path, "video")
    facts["placements"] = [
        {"index": p.index, "start_s": p.start_s, "end_s": p.end_s, "kind": p.kind}
        for p in result.placements]
    facts["fast_path"] = result.fast_path
    return Artifact(kind="video", key=key, facts=facts)


def music_cues(clips: Sequence[SceneClip], placements: Sequence[dict[str, Any]],
               library: Sequence[LibraryEntry]) -> list[MusicCue]:
    """A cue per run of scenes sharing a mood, chosen from the library by tags."""
    if not any(e.kind == "music" for e in library):
        return []
    cues: list[MusicCue] = []
    last_mood, last_path = None, None
    for clip, place in zip(clips, scene_placements(placements), strict=False):
        if clip.mood == last_mood and cues:
            cues[-1] = MusicCue(cues[-1].path, cues[-1].start_s, place["end_s"])
            continue
        entry = choose_cue(library, clip.mood, avoid=[last_path] if last_path else [])
        cues.append(MusicCue(entry.path, place["start_s"], place["end_s"]))
        last_mood, last_path = clip.mood, entry.path
    return cues


def sfx_cues(clips: Sequence[SceneClip], placements: Sequence[dict[str, Any]],
             library: Sequence[LibraryEntry]) -> list[SfxCue]:
    """Sound effects at their scene-relative times, chosen by name or tag."""
    cues = []
    for clip, place in zip(clips, scene_placements(placements), strict=False):
        for item in clip.sfx:
            try:
                entry = choose_cue(library, str(item.get("name", "")), kind="sfx")
            except NotFoundError:
                log.warning("no sound effect in the library for %r; skipped", item)
                continue
            at = min(place["start_s"] + float(item.get("at_s", 0.0)), place["end_s"])
            cues.append(SfxCue(entry.path, at, float(item.get("gain_db", 0.0))))
    return cues


def scene_placements(placements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Placements of scene clips only (title and end cards left out)."""
    return [p for p in placements if p.get("kind", "scene") == "scene"]


def mix_stage(video: Path, clips: Sequence[SceneClip], placements: Sequence[dict[str, Any]],
              library: Sequence[LibraryEntry], store: LocalStore, key: str, *,
              target_lufs: float = -16.0, true_peak_db: float = -1.0) -> Artifact:
    """Music by mood and effects on cue, loudness-normalised and muxed under the copied video.

    :raises FfmpegError: when a cue cannot be decoded or the output written.
    """
    result = mix_episode(video, store.path(key), music=music_cues(clips, placements, library),
                         sfx=sfx_cues(clips, placements, library), target_lufs=target_lufs,
                         true_peak_db=true_peak_db)
    facts = media_facts(result.path, "video")
    facts |= {"integrated_lufs": result.integrated_lufs, "true_peak_db": result.true_peak_db,
              "lra": result.lra, "gain_db": result.gain_db}
    return Artifact(kind="episode", key=key, facts=facts)
