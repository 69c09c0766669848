"""The one canvas builder: read a job's stage rows, build the Celery canvas for what is not yet
done, and send it. Submitting, retrying and resuming after a crash all call dispatch_job.

Per scene a chain of its scene stages in registry order (keyframe, animate, interpolate); a
chord over the scenes into the generated bridges between them, the episode stages (compile,
then mix), then finish.

Each dispatch bumps the job's canvas generation; tasks of an older canvas drop
themselves, so a resumed job never runs a stage twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from celery import chain, chord, group
from celery.canvas import Signature
from flask import current_app
from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from shared.db import committed, db
from shared.models import Job, StageRun, Status
from shared.progress import ProgressBus
from shared.settings_store import get_setting
from shared.stages import Per, position, stage_kind, time_limits
from tasks.app import app
from tasks.labels import stage_labels
from tasks.pipeline.locking import locked_job
from tasks.pipeline.priority import broker_priority
from tasks.pipeline.routing import idle_holders
from tasks.pipeline.stage_rows import in_scene_order, latest_runs, scene_numbers

log = logging.getLogger(__name__)

FINISH_TASK = "render.finish"


@dataclass
class Plan:
    """A built canvas and the task id planned for each stage row."""

    canvas: Signature
    task_ids: dict[int, str]
    root_id: str  # the finish task's: the id of the canvas's result


def build_canvas(session: Session, job: Job) -> Plan | None:
    """The canvas for the job's unfinished stages, or None when nothing is left to run."""
    runs = latest_runs(session, job.id)
    pending = [r for r in runs if r.status != Status.SUCCEEDED]
    if not pending:
        return None
    options = {"priority": broker_priority(job.priority)}
    task_ids: dict[int, str] = {}
    numbers = scene_numbers(session, runs)
    groups = scene_groups(pending, numbers)
    holders = idle_holders(session) if any(checkpoint_of(g[0]) for g in groups) else {}

    def sig(run: StageRun, node: str | None = None) -> Signature:
        task_id = str(uuid.uuid4())
        task_ids[run.id] = task_id
        kind = stage_kind(run.stage)
        # A long scene's stage may take longer than the registry's default limits.
        soft, hard = time_limits(kind, int((run.inputs or {}).get("frames") or 1))
        return app.signature(
            kind.task_name,
            args=(run.id, job.canvas_generation),
            kwargs=stage_labels(run, numbers.get(run.scene_id), node or run.backend),
            immutable=True,
            task_id=task_id,
            soft_time_limit=soft,
            time_limit=hard,
            **options,
            **({"queue": f"gpu.{node}"} if node else {}),
        )

    chains = []
    for scene_runs in groups:
        node = idle_holder_for(scene_runs[0], holders)
        steps = [sig(r, node if i == 0 else None) for i, r in enumerate(scene_runs)]
        chains.append(chain(*steps) if len(steps) > 1 else steps[0])
    # After every scene: the bridges between scenes (in scene order), then the episode stages.
    tail = [
        sig(r)
        for r in sorted(
            (r for r in pending if stage_kind(r.stage).per is not Per.SCENE),
            key=lambda r: (position(r.stage), r.id),
        )
    ]
    finish_id = str(uuid.uuid4())
    finish = app.signature(
        FINISH_TASK,
        args=(job.id, job.canvas_generation),
        immutable=True,
        task_id=finish_id,
        **options,
    )
    after = chain(*tail, finish) if tail else finish
    return Plan(joined(chains, after), task_ids, finish_id)


def checkpoint_of(run: StageRun) -> str | None:
    """The checkpoint a GPU stage renders with (None: not a GPU stage, or routing is blind to
    checkpoints)."""
    if not stage_kind(run.stage).is_gpu or not get_setting("route_by_checkpoint"):
        return None
    return (run.inputs or {}).get("params", {}).get("checkpoint")


def idle_holder_for(run: StageRun, holders: dict[str, list[str]]) -> str | None:
    """An idle backend holding the checkpoint of a chain's first stage, taken from `holders`
    (one chain each): sent there directly, the stage is not picked up from the shared queue by
    another backend only to be re-routed (a claim, a placement and a Celery hop lost). A retry
    goes to the shared queue, as routing keeps it from where it failed, and so does a stage
    whose prompt may exist already (it re-attaches wherever it runs). Routing still decides
    when it arrives."""
    checkpoint = checkpoint_of(run)
    free = holders.get(checkpoint or "")
    if run.attempt > 1 or run.prompt_id or not free:
        return None
    return free.pop(0)


def joined(chains: list[Signature], after: Signature) -> Signature:
    """The scene chains, then `after`: a chord waits for several chains (its counter lives in
    the result backend); one chain simply goes on."""
    if not chains:
        return after
    if len(chains) == 1:
        return chain(chains[0], after)
    return chord(group(chains), after)


def scene_groups(pending: list[StageRun], numbers: dict[int, int]) -> list[list[StageRun]]:
    """The pending per-scene stages of each scene in episode order (`numbers`: each scene's
    order; a character's sheet, which has no scene, last), each in pipeline order (a segmented
    stage's segments in order)."""
    groups: dict[int | None, list[StageRun]] = {}
    for run in sorted(pending, key=lambda r: (position(r.stage), r.segment)):
        if stage_kind(run.stage).per is Per.SCENE:
            groups.setdefault(run.scene_id, []).append(run)
    in_order = in_scene_order((i for i in groups if i is not None), numbers)
    return [groups[scene_id] for scene_id in [*in_order, None] if scene_id in groups]


def dispatch_job(job_id: int) -> str | None:
    """Send the canvas of everything the job still has to do; returns the canvas's root id.

    Commits the new generation and planned task ids before sending (in the app's session, right
    after the caller's commit), so a task never names a row its worker cannot see. When the
    broker is down the rows stay queued and the sweeper sends them later; nothing is lost.
    """
    session = db.session
    with committed(session):
        job = locked_job(session, job_id)  # it writes the stage rows' task ids
        if job is None or job.status in (Status.SUCCEEDED, Status.CANCELLED, Status.FAILED):
            return None
        job.canvas_generation += 1
        plan = build_canvas(session, job)
        if plan is None:
            root_id = str(uuid.uuid4())
            finish = app.signature(
                FINISH_TASK, args=(job.id, job.canvas_generation), immutable=True, task_id=root_id
            )
            plan = Plan(finish, {}, root_id)
        for run_id, task_id in plan.task_ids.items():
            # The rows build_canvas read are in the session: no query.
            session.get(StageRun, run_id).celery_task_id = task_id
        # Known before sending: a send that fails leaves it naming a canvas the sweeper replaces.
        job.celery_root_id = plan.root_id
        generation = job.canvas_generation
        queued = (job.status == Status.QUEUED, job.progress)
    if queued[0]:  # submitted, retried or retaken: live clients see it queued again
        bus = ProgressBus.shared(current_app.config["SETTINGS"].redis_url)
        bus.job_event(job_id, status=Status.QUEUED.value, progress=queued[1])
    try:
        plan.canvas.apply_async()
    except (KombuError, RedisError, OSError) as exc:
        log.warning(
            "dispatch failed job_id=%s generation=%s: %s (the sweeper will resend)",
            job_id,
            generation,
            exc,
        )
        return None
    log.info(
        "dispatched job_id=%s generation=%s stages=%d root=%s",
        job_id,
        generation,
        len(plan.task_ids),
        plan.root_id,
    )
    return plan.root_id
