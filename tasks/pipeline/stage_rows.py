"""Reading what a stage attempt needs from its rows: its workflow, inputs and artifact keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from shared.errors import PermanentError
from shared.models import Asset, Scene, StageRun, Status, WorkerNode
from shared.stages import SCENE_CLIP, Per, downstream_names, position, stage_kind
from tasks.pipeline.workflow_store import template_by_id
from workers.gpu_stage import StageInput
from workers.media.ends import clip_ends, join_segments, last_frame
from workers.storage import LocalStore
from workers.workflows import Template

PROMPT_NAMESPACE = uuid.UUID("8c1d7a52-3f3e-4c55-9b0e-6c1f3b7d2a10")


def prompt_id_for(run_id: int, attempt: int) -> str:
    """The ComfyUI prompt id of a stage attempt: known before the POST, the same on repeat."""
    return str(uuid.uuid5(PROMPT_NAMESPACE, f"tower/stage-run/{run_id}/attempt/{attempt}"))


def job_folder(job_id: int) -> str:
    """The artifact folder holding everything a job writes."""
    return f"jobs/{int(job_id)}"


def output_key(run: StageRun) -> str:
    """The artifact folder of a (job, stage, scene, attempt)."""
    scene = f"scene-{run.scene_id}" if run.scene_id else "episode"
    stage = f"{run.stage}-s{run.segment}" if run.segment else run.stage
    return f"{job_folder(run.job_id)}/{scene}/{stage}/a{run.attempt}"


@dataclass(frozen=True)
class GpuWork:
    """A snapshot of one GPU stage attempt, taken while its row was locked."""

    run_id: int
    job_id: int
    scene_id: int | None
    stage: str
    attempt: int
    prompt_id: str
    template: Template
    params: dict[str, Any]
    extra_data: dict[str, Any]
    inputs: tuple[StageInput, ...]
    output_key: str
    backend: str | None
    backend_url: str | None
    prompt: dict[str, Any] | None = None  # bound by the delivery that placed it
    look_first: bool = True  # whether the prompt may exist already (False: submit at once)


def latest_success(
    session: Session, job_id: int, scene_id: int | None, stage: str, segment: int = 0
) -> StageRun | None:
    """The newest succeeded attempt of a stage (of one of its segments)."""
    return session.scalar(
        sa.select(StageRun)
        .where(
            StageRun.job_id == job_id,
            StageRun.scene_id == scene_id,
            StageRun.stage == stage,
            StageRun.segment == segment,
            StageRun.status == Status.SUCCEEDED,
        )
        .order_by(StageRun.attempt.desc())
        .limit(1)
    )


def segment_successes(
    session: Session, job_id: int, scene_id: int | None, stage: str
) -> list[StageRun]:
    """The newest succeeded attempt of each segment of a stage, in segment order, with its
    assets (read in the same statement: the next stage takes its input from them)."""
    rows = session.scalars(
        sa.select(StageRun)
        .options(joinedload(StageRun.assets))
        .where(
            StageRun.job_id == job_id,
            StageRun.scene_id == scene_id,
            StageRun.stage == stage,
            StageRun.status == Status.SUCCEEDED,
        )
        .order_by(StageRun.segment, StageRun.attempt)
    ).unique()
    return list({run.segment: run for run in rows}.values())


def clip_run(runs: list[StageRun]) -> StageRun | None:
    """Of one scene's stage runs, the newest succeeded attempt of its last stage that makes a
    clip (the clip so far: interpolate's, else animate's)."""
    done = [r for r in runs if r.status == Status.SUCCEEDED and stage_kind(r.stage).clip]
    return max(done, key=lambda r: (position(r.stage), r.attempt), default=None)


def scene_clip(session: Session, job_id: int, scene_id: int) -> Asset | None:
    """A scene's finished clip in a job, or None when no stage has made one."""
    runs = list(
        session.scalars(
            sa.select(StageRun).where(StageRun.job_id == job_id, StageRun.scene_id == scene_id)
        )
    )
    run = clip_run(runs)
    kind = stage_kind(run.stage).clip if run else None
    return next((a for a in run.assets if a.kind == kind), None) if run else None


def upstream_inputs(session: Session, run: StageRun, store: LocalStore) -> tuple[StageInput, ...]:
    """The file a GPU stage takes from the stage before it (none for the first), or the
    reference image its row names.

    :raises PermanentError: when the earlier stage left no usable output, or the reference
        image is gone.
    """
    if "reference_asset_id" in run.inputs:
        return (reference_input(session, run, store),)
    kind = stage_kind(run.stage)
    takes = kind.takes
    if kind.per is Per.PAIR:
        return (pair_ends(session, run, store),)
    if run.segment:
        return (previous_segment_end(session, run, store),)
    if takes is None or takes.stage == SCENE_CLIP:
        return ()
    befores = segment_successes(session, run.job_id, run.scene_id, takes.stage)
    if len(befores) > 1:
        return (joined_segments(befores, run, store),)
    assets = {a.kind: a for a in befores[0].assets} if befores else {}
    for kind in takes.kinds:
        if kind in assets:
            return (StageInput(kind=kind, path=store.path(assets[kind].uri)),)
    scene = session.get(Scene, run.scene_id) if run.scene_id else None
    raise PermanentError(
        f"{run.stage} needs the {takes.stage} output of scene "
        f"{scene.order if scene else '?'}, which is missing"
    )


def frames_of(run: StageRun, store: LocalStore) -> Path:
    """The frames folder a succeeded row wrote.

    :raises PermanentError: when it wrote none.
    """
    folder = next((a for a in run.assets if a.kind == "frames"), None)
    if folder is None:
        raise PermanentError(f"{run.stage} segment {run.segment} left no frames")
    return store.path(folder.uri)


def previous_segment_end(session: Session, run: StageRun, store: LocalStore) -> StageInput:
    """A segment's input: the last frame of the segment before it, which it continues.

    :raises PermanentError: when that segment has no frames.
    """
    before = latest_success(session, run.job_id, run.scene_id, run.stage, run.segment - 1)
    if before is None:
        raise PermanentError(f"{run.stage} segment {run.segment - 1} has not rendered")
    return StageInput(kind="image", path=last_frame(frames_of(before, store)))


def joined_segments(befores: list[StageRun], run: StageRun, store: LocalStore) -> StageInput:
    """A segmented stage's frames as one folder, without the frame each segment repeats."""
    folders = [frames_of(b, store) for b in befores]
    return StageInput("frames", join_segments(folders, store.path(f"{output_key(run)}/joined")))


def pair_ends(session: Session, run: StageRun, store: LocalStore) -> StageInput:
    """A pair stage's input: the last frame of its scene's clip and the first of the next's.

    :raises PermanentError: when either scene has no finished clip.
    """
    clips = []
    for scene_id in (run.scene_id, run.inputs.get("next_scene_id")):
        clip = scene_clip(session, run.job_id, scene_id) if scene_id else None
        if clip is None:
            raise PermanentError(f"{run.stage} needs the clip of scene {scene_id}; it is missing")
        clips.append(store.path(clip.uri))
    folder = clip_ends(*clips, store.path(f"{output_key(run)}/ends"))
    return StageInput(kind="frames", path=folder)


def touches(run: StageRun, scene_id: int | None) -> bool:
    """Whether a row renders (or, for a pair, starts or ends at) this scene."""
    return run.scene_id == scene_id or (
        scene_id is not None and run.inputs.get("next_scene_id") == scene_id
    )


def reference_input(session: Session, run: StageRun, store: LocalStore) -> StageInput:
    """The reference image a stage's row names, from the store.

    :raises PermanentError: when its asset or file is gone.
    """
    asset = session.get(Asset, run.inputs["reference_asset_id"])
    path = store.path(asset.uri) if asset is not None else None
    if path is None or not path.is_file():
        raise PermanentError(
            f"{run.stage}: the reference image (asset {run.inputs['reference_asset_id']}) "
            "is gone; render the character's sheet again or render without references"
        )
    return StageInput(kind="image", path=path)


def gpu_work(session: Session, run_id: int, store: LocalStore) -> GpuWork:
    """Snapshot a claimed GPU stage attempt."""
    run = session.get(StageRun, run_id)
    return GpuWork(
        run_id=run.id,
        job_id=run.job_id,
        scene_id=run.scene_id,
        stage=run.stage,
        attempt=run.attempt,
        prompt_id=prompt_id_for(run.id, run.attempt),
        template=template_by_id(session, run.workflow_id),
        params=dict(run.inputs.get("params", {})),
        extra_data=dict(run.inputs.get("extra_data", {})),
        inputs=upstream_inputs(session, run, store),
        output_key=output_key(run),
        backend=run.backend,
        backend_url=backend_url(session, run.backend) if run.backend else None,
    )


def run_inputs(session: Session, run_id: int) -> dict[str, Any]:
    """A stage run's inputs column ({} when the run is gone)."""
    return session.scalar(sa.select(StageRun.inputs).where(StageRun.id == run_id)) or {}


def backend_url(session: Session, name: str) -> str | None:
    """The ComfyUI URL a registered backend serves on (None when it is not registered)."""
    return session.scalar(sa.select(WorkerNode.comfyui_url).where(WorkerNode.name == name))


def latest_runs(session: Session, job_id: int) -> list[StageRun]:
    """The newest attempt of every (stage, scene, segment) of a job."""
    rows = session.scalars(
        sa.select(StageRun).where(StageRun.job_id == job_id).order_by(StageRun.attempt)
    )
    newest: dict[tuple[str, int | None, int], StageRun] = {}
    for run in rows:
        newest[(run.stage, run.scene_id, run.segment)] = run
    return list(newest.values())


def downstream(runs: list[StageRun], start: StageRun) -> list[StageRun]:
    """`start` and every latest stage run that needs its output: its later segments, the later
    stages of its scene, the bridges from or to it, and the episode stages after it."""
    later = downstream_names(start.stage)
    return [
        r
        for r in runs
        if r.id == start.id
        or (r.stage == start.stage and r.scene_id == start.scene_id and r.segment > start.segment)
        or (
            r.stage in later
            and (touches(r, start.scene_id) or stage_kind(r.stage).per is Per.EPISODE)
        )
    ]


def scene_numbers(session: Session, runs: Iterable[StageRun]) -> dict[int, int]:
    """Each scene id of the runs with its order in the episode (the number people read)."""
    ids = {r.scene_id for r in runs if r.scene_id is not None}
    if not ids:
        return {}
    found = session.execute(sa.select(Scene.id, Scene.order).where(Scene.id.in_(ids))).all()
    return {scene_id: order for scene_id, order in found}


def scene_order(session: Session, runs: Iterable[StageRun]) -> list[int]:
    """Scene ids of the runs in the episode's order."""
    runs = list(runs)
    ids = {r.scene_id for r in runs if r.scene_id is not None}
    return in_scene_order(ids, scene_numbers(session, runs))


def in_scene_order(scene_ids: Iterable[int], numbers: dict[int, int]) -> list[int]:
    """`scene_ids` in the episode's order (`numbers`: from scene_numbers; a scene deleted
    since, unnumbered, last)."""
    return sorted(scene_ids, key=lambda i: (numbers.get(i, 1 << 30), i))
