"""The CPU stages of an episode: compile the scene clips (with QC), then mix and mux the audio.

Plain functions over paths and small dataclasses (no database, no Celery); the media work
itself is in workers.media.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from shared.errors import PermanentError
from shared.models.status import Transition
from workers.gpu_stage import Artifact, media_facts
from workers.media.compiler import ClipSpec, CompileResult, Placement, compile_episode
from workers.media.cues import SceneSfx, plan_music, plan_sfx
from workers.media.dialogue import SceneLine, plan_dialogue
from workers.media.library import LibraryEntry
from workers.media.mixer import mix_episode
from workers.media.probe import container_fact
from workers.media.qc import plan_qc, run_qc
from workers.media.report import QcFailed
from workers.media.speech import Espeak, Speaker
from workers.media.subtitles import Subtitle, write_srt, write_vtt
from workers.storage import LocalStore, sha256_of

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
    bridge: Path | None = None  # a generated transition's clip, played after this scene
    # Spoken lines: {"speaker", "voice", "text", "at_s"}, scene-relative.
    dialogue: tuple[dict[str, Any], ...] = field(default=())


def compile_stage(
    clips: Sequence[SceneClip], store: LocalStore, key: str, *, fps: float, width: int, height: int
) -> Artifact:
    """Join the scene clips with their transitions into the episode video (no audio yet), and
    check it before it goes on: duration, every scene in order, no black or frozen stretch,
    format as asked. The QC report is stored with the video.

    :raises QcFailed: a check failed; the message says what and where (scene, time).
    :raises ValidationError: on no clips or a transition longer than a clip.
    :raises FfmpegError: when a clip cannot be read or encoded.
    """
    specs = clip_specs(clips)
    result = compile_episode(specs, store.path(key), fps=fps, width=width, height=height)
    report = run_qc(result.path, plan_qc(result, expect_audio=False))
    if not report.passed:
        raise QcFailed(report)
    facts = media_facts(result.path, "video")
    facts |= {"compile": result.to_dict(), "qc": report.to_dict()}
    return Artifact(kind="video", key=key, facts=facts)


def clip_specs(clips: Sequence[SceneClip]) -> list[ClipSpec]:
    """What compile joins: each scene's clip, and after a scene with a generated transition its
    bridge, cut in on both sides (the bridge is the transition, so the episode grows by it)."""
    specs = []
    for clip in clips:
        if clip.bridge is None:
            # A generated transition without its bridge (the last scene's) is a cut.
            transition = "cut" if clip.transition == Transition.GENERATED else clip.transition
            specs.append(ClipSpec(clip.path, transition, clip.transition_s, clip.label))
            continue
        specs.append(ClipSpec(clip.path, "cut", 0.0, clip.label))
        specs.append(ClipSpec(clip.bridge, "cut", 0.0, f"bridge after {clip.label}", "bridge"))
    return specs


def compile_result_from(meta: dict[str, Any]) -> CompileResult:
    """The CompileResult stored with a compiled episode."""
    data = dict(meta["compile"])
    data["path"] = Path(data["path"])
    data["placements"] = tuple(Placement(**p) for p in data["placements"])
    data["notes"] = tuple(data.get("notes", ()))
    return CompileResult(**data)


def scene_effects(clips: Sequence[SceneClip]) -> list[SceneSfx]:
    """Every scene's sound-effect cues, scene-relative."""
    return [
        SceneSfx(
            scene_index=index,
            at_s=float(cue.get("at_s", 0.0)),
            sound=str(cue.get("name", "")),
            gain_db=float(cue.get("gain_db", 0.0)),
        )
        for index, clip in enumerate(clips)
        for cue in clip.sfx
    ]


def scene_lines(clips: Sequence[SceneClip]) -> list[SceneLine]:
    """Every scene's dialogue lines, scene-relative."""
    return [
        SceneLine(
            scene_index=index,
            at_s=float(line["at_s"]),
            speaker=str(line.get("speaker", "")),
            voice=str(line["voice"]),
            text=str(line["text"]),
        )
        for index, clip in enumerate(clips)
        for line in clip.dialogue
    ]


def subtitle_artifacts(subtitles: list[Subtitle], store: LocalStore, key: str) -> list[Artifact]:
    """The dialogue's WebVTT and SRT files beside the episode's key."""
    artifacts = []
    for suffix, mime, write in ((".vtt", "text/vtt", write_vtt),
                                (".srt", "application/x-subrip", write_srt)):  # fmt: skip
        sub_key = str(PurePosixPath(key).with_suffix(suffix))
        path = store.path(sub_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write(subtitles, path)
        facts = {"size_bytes": path.stat().st_size, "sha256": sha256_of(path), "mime_type": mime,
                 "lines": len(subtitles)}  # fmt: skip
        artifacts.append(Artifact(kind="subtitles", key=sub_key, facts=facts))
    return artifacts


def mix_stage(
    video: Path,
    compiled: CompileResult,
    clips: Sequence[SceneClip],
    library: Sequence[LibraryEntry],
    store: LocalStore,
    key: str,
    *,
    target_lufs: float = -16.0,
    true_peak_db: float = -1.0,
    speaker: Speaker | None = None,
) -> list[Artifact]:
    """Music by mood, effects on cue and dialogue spoken at its times (the music ducked under
    it), loudness-normalised and muxed under the copied video; with dialogue, its WebVTT and
    SRT subtitles too. Lines are spoken by `speaker` (espeak-ng by default).

    :raises PermanentError: the published file would have no audio track, or a line cannot be
        spoken.
    :raises FfmpegError: when a cue cannot be decoded or the output written.
    """
    has_music = any(e.kind == "music" for e in library)
    music = plan_music(compiled, [c.mood for c in clips], library) if has_music else []
    has_sfx = any(e.kind == "sfx" for e in library)
    sfx = plan_sfx(compiled, scene_effects(clips), library) if has_sfx else []
    with tempfile.TemporaryDirectory(prefix="tower-speech-") as speech:
        dialogue, subtitles = plan_dialogue(
            compiled, scene_lines(clips), Path(speech), speaker or Espeak()
        )
        result = mix_episode(
            video,
            store.path(key),
            music=music,
            sfx=sfx,
            dialogue=dialogue,
            target_lufs=target_lufs,
            true_peak_db=true_peak_db,
        )
    if not container_fact(result.path, "has_audio"):
        raise PermanentError(f"QC: the mixed episode {key} has no audio track")
    facts = media_facts(result.path, "video")
    facts |= {
        "integrated_lufs": result.integrated_lufs,
        "true_peak_db": result.true_peak_db,
        "lra": result.lra,
        "gain_db": result.gain_db,
        "dialogue_lines": len(subtitles),
    }
    episode = Artifact(kind="episode", key=key, facts=facts)
    return [episode, *subtitle_artifacts(subtitles, store, key)] if subtitles else [episode]
