"""Compile and mix deliveries: claim, read the scene clips from the rows, run, record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from sqlalchemy.orm import Session

from shared.errors import FarmError, PermanentError
from shared.models import Job, LibraryEntry, Scene, Stage, StageRun, Status
from tasks.context import WorkerContext, worker_context
from tasks.delivery import claim_delivery, fail_stage, fail_unexpected, skipped
from tasks.leases import LeaseKeeper
from tasks.pipelines import scene_order
from tasks.recording import record_success
from tasks.stage_rows import latest_success, output_key
from workers.episode_stage import SceneClip, compile_result_from, compile_stage, mix_stage
from workers.gpu_stage import Artifact
from workers.media.library import LibraryEntry as MediaEntry
from workers.media.library import make_entry

log = logging.getLogger(__name__)


def run_cpu_delivery(task: Task, run_id: int, generation: int) -> dict[str, Any]:
    """Handle one delivery of compile or mix.

    :raises Ignore: nothing to do (duplicate, superseded, cancelled).
    :raises PermanentError: the stage failed (recorded on the rows first).
    """
    ctx = worker_context()
    claimed = claim_delivery(task, ctx, run_id, generation)
    if claimed is None:
        return skipped(run_id)
    relay = claimed.relay
    with Session(ctx.engine) as session:
        run = session.get(StageRun, run_id)
        try:
            work = prepare_compile(session, run, ctx) if run.stage == Stage.COMPILE else \
                prepare_mix(session, run, ctx)
        except FarmError as exc:  # e.g. a scene has no clip
            fail_stage(ctx, relay, exc)
            raise
    relay.started()
    try:
        with LeaseKeeper(ctx.engine, run_id, claimed.owner):
            artifact = work()
    except (FarmError, SoftTimeLimitExceeded, OSError) as exc:
        message = "the stage ran past its time limit" \
            if isinstance(exc, SoftTimeLimitExceeded) else str(exc)
        fail_stage(ctx, relay, exc, message)
        raise PermanentError(message) from exc
    try:
        with Session(ctx.engine) as session, session.begin():
            recorded = record_success(session, run_id, claimed.owner, [artifact])
    except Exception as exc:
        fail_unexpected(ctx, relay, exc)
        raise
    if not recorded:
        raise Ignore()
    relay.finished(Status.SUCCEEDED)
    return {"stage_run_id": run_id, "status": "succeeded", "outputs": [artifact.key]}


def scene_clips(session: Session, run: StageRun, ctx: WorkerContext) -> list[SceneClip]:
    """Each scene's finished clip, in episode order, with its transition, mood and effects.

    :raises PermanentError: a scene has no finished clip.
    """
    job = session.get(Job, run.job_id)
    scene_ids = scene_order(session, [r for r in job.stage_runs if r.scene_id])
    clips = []
    for scene_id in scene_ids:
        scene = session.get(Scene, scene_id)
        done = latest_success(session, run.job_id, scene_id, Stage.INTERPOLATE)
        video = next((a for a in done.assets if a.kind == "video"), None) if done else None
        if video is None:
            raise PermanentError(f"scene {scene_id} has no finished clip to compile")
        clips.append(SceneClip(path=ctx.store.path(video.uri), transition=scene.transition,
                               transition_s=scene.transition_s, mood=scene.mood,
                               sfx=tuple(scene.sfx_cues or ()), label=f"scene {scene.order}"))
    return clips


def prepare_compile(session: Session, run: StageRun,
                    ctx: WorkerContext) -> Callable[[], Artifact]:
    """The compile work, with everything read from the rows up front."""
    clips = scene_clips(session, run, ctx)
    params = run.inputs.get("params", {})
    key = f"{output_key(run)}/episode.mp4"
    return lambda: compile_stage(clips, ctx.store, key, fps=params["fps"],
                                 width=params["width"], height=params["height"])


def prepare_mix(session: Session, run: StageRun, ctx: WorkerContext) -> Callable[[], Artifact]:
    """The mix work: the compiled video, its scene placements and the audio library."""
    compiled = latest_success(session, run.job_id, None, Stage.COMPILE)
    video = next(a for a in compiled.assets if a.kind == "video")
    clips = scene_clips(session, run, ctx)
    library = audio_library(session, ctx)
    key = f"{output_key(run)}/final.mp4"
    compiled_result = compile_result_from(video.meta)
    video_path = ctx.store.path(video.uri)
    return lambda: mix_stage(video_path, compiled_result, clips, library, ctx.store, key)


def audio_library(session: Session, ctx: WorkerContext) -> list[MediaEntry]:
    """The music and sound-effect library rows as media entries."""
    rows = session.scalars(sa.select(LibraryEntry).order_by(LibraryEntry.id))
    return [make_entry(ctx.store.path(row.uri), kind=row.kind, name=row.name, tags=row.tags,
                       duration_s=row.duration_s) for row in rows]
