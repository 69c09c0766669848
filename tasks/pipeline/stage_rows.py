"""Reading what a stage attempt needs from its rows: its workflow, inputs and artifact keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.errors import PermanentError
from shared.models import Asset, Scene, StageRun, Status, WorkerNode, Workflow
from shared.stages import SCENE_CLIP, Per, downstream_names, position, stage_kind
from tasks.pipeline.workflow_store import template_of
from workers.gpu_stage import StageInput
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
    return f"{job_folder(run.job_id)}/{scene}/{run.stage}/a{run.attempt}"


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
    session: Session, job_id: int, scene_id: int | None, stage: str
) -> StageRun | None:
    """The newest succeeded attempt of a stage."""
    return session.scalar(
        sa.select(StageRun)
        .where(
            StageRun.job_id == job_id,
            StageRun.scene_id == scene_id,
            StageRun.stage == stage,
            StageRun.status == Status.SUCCEEDED,
        )
        .order_by(StageRun.attempt.desc())
        .limit(1)
    )


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
    """The file a GPU stage takes from the stage before it (none for the first).

    :raises PermanentError: when the earlier stage left no usable output.
    """
    takes = stage_kind(run.stage).takes
    if takes is None or takes.stage == SCENE_CLIP:
        return ()
    before = latest_success(session, run.job_id, run.scene_id, takes.stage)
    assets = {a.kind: a for a in before.assets} if before else {}
    for kind in takes.kinds:
        if kind in assets:
            return (StageInput(kind=kind, path=store.path(assets[kind].uri)),)
    raise PermanentError(
        f"{run.stage} needs the {takes.stage} output of scene {run.scene_id}, which is missing"
    )


def gpu_work(session: Session, run_id: int, store: LocalStore) -> GpuWork:
    """Snapshot a claimed GPU stage attempt."""
    run = session.get(StageRun, run_id)
    workflow = session.get(Workflow, run.workflow_id)
    node = (
        session.scalar(sa.select(WorkerNode).where(WorkerNode.name == run.backend))
        if run.backend
        else None
    )
    return GpuWork(
        run_id=run.id,
        job_id=run.job_id,
        scene_id=run.scene_id,
        stage=run.stage,
        attempt=run.attempt,
        prompt_id=prompt_id_for(run.id, run.attempt),
        template=template_of(workflow),
        params=dict(run.inputs.get("params", {})),
        extra_data=dict(run.inputs.get("extra_data", {})),
        inputs=upstream_inputs(session, run, store),
        output_key=output_key(run),
        backend=run.backend,
        backend_url=node.comfyui_url if node else None,
    )


def latest_runs(session: Session, job_id: int) -> list[StageRun]:
    """The newest attempt of every (stage, scene) of a job."""
    rows = session.scalars(
        sa.select(StageRun).where(StageRun.job_id == job_id).order_by(StageRun.attempt)
    )
    newest: dict[tuple[str, int | None], StageRun] = {}
    for run in rows:
        newest[(run.stage, run.scene_id)] = run
    return list(newest.values())


def downstream(runs: list[StageRun], start: StageRun) -> list[StageRun]:
    """`start` and every latest stage run that needs its output: the later stages of its scene
    and the episode stages after it."""
    later = {start.stage, *downstream_names(start.stage)}
    return [
        r
        for r in runs
        if r.stage in later
        and (r.scene_id == start.scene_id or stage_kind(r.stage).per is Per.EPISODE)
    ]


def scene_order(session: Session, runs: Iterable[StageRun]) -> list[int]:
    """Scene ids of the runs in the episode's order."""
    ids = {r.scene_id for r in runs if r.scene_id is not None}
    if not ids:
        return []
    found = session.execute(sa.select(Scene.id, Scene.order).where(Scene.id.in_(ids))).all()
    known = {scene_id: order for scene_id, order in found}
    return sorted(ids, key=lambda i: (known.get(i, 1 << 30), i))
