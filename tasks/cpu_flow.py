"""CPU stage deliveries (compile, mix): read the scene clips and library from the rows, then run
the plain media functions of workers.episode_stage. The rest of a delivery's life is
tasks.base."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from shared.errors import PermanentError
from shared.models import Asset, Character, Scene, StageRun, Status
from shared.stages import PAIR_STAGE_NAMES, stage_kind
from tasks.base import Claimed, Delivery
from tasks.context import WorkerContext
from tasks.pipeline.library_store import cue_library
from tasks.pipeline.stage_rows import clip_run, latest_success, output_key, scene_order
from workers.echo.config import speaker_for, speech_config
from workers.episode_stage import SceneClip, compile_result_from, compile_stage, mix_stage
from workers.gpu_stage import Artifact
from workers.media.speech import Espeak, Speaker
from workers.storage import LocalStore

log = logging.getLogger(__name__)

Work = Callable[[], list[Artifact]]


class CpuDelivery(Delivery[Work]):
    """A delivery of an episode stage on a CPU worker."""

    def prepare(self, claimed: Claimed) -> Work:
        """Everything the stage needs, read from the rows up front.

        :raises PermanentError: a scene has no clip, or the stage before left no output.
        """
        with Session(self.ctx.engine) as session:
            run = session.get(StageRun, self.run_id)
            return PREPARE[run.stage](session, run, self.ctx)

    def execute(self, work: Work, claimed: Claimed) -> list[Artifact]:
        """Run the media work."""
        return work()


def scene_clips(
    session: Session, run: StageRun, store: LocalStore, speaker: Speaker | None = None
) -> list[SceneClip]:
    """Each scene's finished clip, in episode order, with its transition, mood, effects and
    dialogue (voiced for `speaker`, espeak-ng by default). Reads the job's stage rows, scenes
    and speaking characters in a few queries whatever the number of scenes.

    :raises PermanentError: a scene has no finished clip.
    """
    runs = list(
        session.scalars(
            sa.select(StageRun)
            .where(StageRun.job_id == run.job_id, StageRun.scene_id.is_not(None))
            .options(selectinload(StageRun.assets))
        )
    )
    by_scene: dict[int, list[StageRun]] = defaultdict(list)
    for scene_run in runs:
        by_scene[scene_run.scene_id].append(scene_run)
    order = scene_order(session, runs)
    scenes = {s.id: s for s in session.scalars(sa.select(Scene).where(Scene.id.in_(order)))}
    cast = speaking_cast(session, scenes.values())
    clips = []
    for scene_id in order:
        scene = scenes[scene_id]
        video = clip_of(by_scene[scene_id])
        if video is None:
            raise PermanentError(f"scene {scene.order} has no finished clip to compile")
        bridge = pair_output(by_scene[scene_id], "video")
        clips.append(
            SceneClip(
                path=store.path(video.uri),
                transition=scene.transition,
                transition_s=scene.transition_s,
                mood=scene.mood,
                sfx=tuple(scene.sfx_cues or ()),
                label=f"scene {scene.order}",
                bridge=store.path(bridge.uri) if bridge else None,
                dialogue=spoken_lines(scene, cast, speaker or Espeak()),
            )
        )
    return clips


def clip_of(runs: list[StageRun]) -> Asset | None:
    """A scene's finished clip among its stage runs, or None when no stage has made one."""
    run = clip_run(runs)
    kind = stage_kind(run.stage).clip if run else None
    return next((a for a in run.assets if a.kind == kind), None) if run else None


def pair_output(runs: list[StageRun], kind: str) -> Asset | None:
    """Of a scene's stage runs, the output of the pair stage (a generated bridge) that starts
    at the scene: its newest succeeded attempt's, if any."""
    for name in PAIR_STAGE_NAMES:
        done = [
            r for r in runs if r.stage == name and r.segment == 0 and r.status == Status.SUCCEEDED
        ]
        newest = max(done, key=lambda r: r.attempt, default=None)
        found = next((a for a in newest.assets if a.kind == kind), None) if newest else None
        if found is not None:
            return found
    return None


def speaking_cast(session: Session, scenes: Iterable[Scene]) -> dict[int, Character]:
    """The characters who speak a line in any of the scenes, by id."""
    ids = {line["character_id"] for scene in scenes for line in scene.dialogue or ()}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(sa.select(Character).where(Character.id.in_(ids)))}


def spoken_lines(
    scene: Scene, cast: dict[int, Character], speaker: Speaker
) -> tuple[dict[str, Any], ...]:
    """A scene's dialogue with each speaker's name and voice (its own, or the speaker's
    default for its name)."""
    lines = []
    for line in scene.dialogue or ():
        character = cast.get(line["character_id"])
        name = character.name if character else ""
        fallback = name or f"character {line['character_id']}"
        voice = (character.voice if character else "") or speaker.default_voice(fallback)
        lines.append({"speaker": name, "voice": voice, "text": line["text"], "at_s": line["at_s"]})
    return tuple(lines)


def prepare_compile(session: Session, run: StageRun, ctx: WorkerContext) -> Work:
    """The compile work: the scene clips joined at the episode's rate and size."""
    clips = scene_clips(session, run, ctx.store)
    params = run.inputs.get("params", {})
    key = f"{output_key(run)}/episode.mp4"
    return lambda: [
        compile_stage(
            clips, ctx.store, key, fps=params["fps"], width=params["width"], height=params["height"]
        )
    ]


def prepare_mix(session: Session, run: StageRun, ctx: WorkerContext) -> Work:
    """The mix work: the compiled video, its scene placements and the audio library.

    :raises PermanentError: the compiled video is missing.
    """
    takes = stage_kind(run.stage).takes
    compiled = latest_success(session, run.job_id, None, takes.stage)
    video = next((a for a in compiled.assets if a.kind in takes.kinds), None) if compiled else None
    if video is None:
        raise PermanentError(f"{run.stage} needs the {takes.stage} output, which is missing")
    speaker = speaker_for(speech_config())
    clips = scene_clips(session, run, ctx.store, speaker)
    library = cue_library(session, ctx.store)
    key = f"{output_key(run)}/final.mp4"
    compiled_result = compile_result_from(video.meta)
    video_path = ctx.store.path(video.uri)
    return lambda: mix_stage(
        video_path, compiled_result, clips, library, ctx.store, key, speaker=speaker
    )


# What each CPU stage of the registry runs.
PREPARE: dict[str, Callable[[Session, StageRun, WorkerContext], Work]] = {
    "compile": prepare_compile,
    "mix": prepare_mix,
}
