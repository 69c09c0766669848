"""The faults bench.chaos injects, one function per scenario, each running one trial on the rig:
submit a small job, wait until one of its GPU stages renders on a backend, wait a random moment
of that render, inject the fault, and judge how the job ended.

A trial's recovery time runs from the fault to the job's terminal state (for the disk-full
scenario, to the retried job's success once space is freed)."""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
import sqlalchemy as sa

from bench import chaos_netns
from bench.chaos_rig import (
    FAR,
    LEASE_S,
    Rig,
    duplicates,
    give_up,
    lost_outputs,
    rendering,
    submit,
    wait_ended,
    within_render,
)
from shared.db import db
from shared.models import Job, StageRun
from shared.progress import SINK_GROUP, events_key
from tasks.pipeline.control import prepare_retry
from tasks.pipelines import dispatch_job
from tests.support.processes import wait_for
from tests.support.web_server import answers

ENDING_S = 120  # a job not ended this long after its fault counts as not recovered
PARTITION_S = LEASE_S + 5  # longer than the lease: the stage must move elsewhere


@dataclass
class Trial:
    """How one trial ended."""

    right: bool
    duplicates: int
    lost: int
    recover_s: float
    note: str = ""


def judged(rig: Rig, job_id: int, fault_at: float, *, right: bool, note: str = "") -> Trial:
    """A trial's figures once its job ended."""
    return Trial(
        right=right,
        duplicates=duplicates(rig, job_id),
        lost=lost_outputs(rig, job_id),
        recover_s=time.monotonic() - fault_at,
        note=note,
    )


def injected(
    rig: Rig, inject: Callable[[StageRun], None], nodes: tuple[str, ...] | None = None
) -> tuple[int, float] | None:
    """Submit a job and inject the fault at a random moment of one of its renders (on
    `nodes`, when given): the job's id and when the fault landed. None when the job ended
    before a stage rendered where the fault needs it (the caller tries again)."""
    job_id = submit(rig)
    run = rendering(rig, job_id, nodes)
    if run is None:
        return None
    within_render(rig)
    fault_at = time.monotonic()
    inject(run)
    return job_id, fault_at


def faulted_trial(
    rig: Rig, inject: Callable[[StageRun], None], nodes: tuple[str, ...] | None = None
) -> Trial | None:
    """Submit, inject mid-render, wait the end: the job must succeed. None when the fault
    found no render to land in."""
    landed = injected(rig, inject, nodes)
    if landed is None:
        return None
    job_id, fault_at = landed
    try:
        job = wait_ended(rig, job_id, timeout=ENDING_S)
    except TimeoutError:
        give_up(rig, job_id)
        return judged(rig, job_id, fault_at, right=False, note=f"not ended in {ENDING_S} s")
    return judged(rig, job_id, fault_at, right=job.status == "succeeded", note=job.error or "")


def pool_process_killed(rig: Rig) -> Trial | None:
    """kill -9 of the GPU worker's pool process running the stage."""
    return faulted_trial(
        rig, lambda run: os.kill(int(run.lease_owner.split(":")[1]), signal.SIGKILL)
    )


def gpu_worker_killed(rig: Rig) -> Trial | None:
    """kill -9 of the whole GPU worker (its main process and pool), then started again."""

    def inject(run: StageRun) -> None:
        rig.farm.gpu_workers[run.backend].kill()
        rig.farm.start_gpu_worker(run.backend)

    return faulted_trial(rig, inject)


def backend_restarted(rig: Rig) -> Trial | None:
    """The ComfyUI process killed mid-render and started again (queue and history empty)."""

    def inject(run: StageRun) -> None:
        rig.archive(run.backend)
        rig.farm.emulators[run.backend].kill()
        rig.farm.restart_backend(run.backend)

    return faulted_trial(rig, inject)


def backend_lost(rig: Rig) -> Trial | None:
    """The ComfyUI process killed and not restarted: the work moves to the other backend. The
    backend is started again after the trial, for the next one."""
    killed: list[str] = []

    def inject(run: StageRun) -> None:
        rig.archive(run.backend)
        rig.farm.emulators[run.backend].kill()
        killed.append(run.backend)

    try:
        return faulted_trial(rig, inject)
    finally:
        for node in killed:
            rig.farm.restart_backend(node)


def redis_restarted(rig: Rig) -> Trial | None:
    """Redis restarted empty: queued messages, progress streams and results are gone."""
    return faulted_trial(rig, lambda run: rig.services.restart("redis"))


def postgres_restarted(rig: Rig) -> Trial | None:
    """Postgres restarted mid-job (every connection of every process is cut)."""
    return faulted_trial(rig, lambda run: rig.services.restart("postgres"))


def web_and_sink_killed(rig: Rig) -> Trial | None:
    """kill -9 of the web app and the progress sink, started again a moment later. Right: the
    job succeeded, the sink caught up with its stream (nothing pending for good), and the rows
    still say succeeded with full progress afterwards (no terminal state overwritten)."""

    def inject(run: StageRun) -> None:
        rig.sink.kill()
        rig.web.kill()
        time.sleep(rig.rng.uniform(0.1, 1.0))
        rig.start_sink()
        rig.start_web()

    trial = faulted_trial(rig, inject)
    if trial is None or not trial.right:
        return trial
    job_id = latest_job(rig)
    caught_up = wait_for(
        lambda: sink_caught_up(rig, job_id), 60, what=f"the sink to catch up with job {job_id}"
    )
    with rig.app.app_context():
        job = db.session.get(Job, job_id)
        runs = db.session.scalars(sa.select(StageRun).where(StageRun.job_id == job_id)).all()
        intact = job.status == "succeeded" and job.progress == 1.0
        intact = intact and all(r.status == "succeeded" and r.progress == 1.0 for r in runs)
    trial.right = bool(caught_up) and intact and answers(rig.web_url)
    trial.note = "" if trial.right else "rows changed after the sink caught up"
    return trial


def sink_caught_up(rig: Rig, job_id: int) -> bool:
    """Whether the sink's group read and acknowledged every event of the job's stream."""
    client = redis.Redis.from_url(rig.settings.redis_url)
    try:
        groups = client.xinfo_groups(events_key(job_id))
    finally:
        client.close()
    group = next((g for g in groups if g["name"].decode() == SINK_GROUP), None)
    return group is not None and group["pending"] == 0 and group["lag"] == 0


def latest_job(rig: Rig) -> int:
    """The id of the last job submitted."""
    with rig.app.app_context():
        return db.session.scalar(sa.select(sa.func.max(Job.id)))


def disk_full(rig: Rig) -> Trial | None:
    """The artifact disk (a small tmpfs) fills up during a stage: the job fails with a clear
    stage error, nothing half-written is left or published, and once space is freed a retry
    finishes it."""
    filler = rig.store.root / ".chaos-filler"
    landed = injected(rig, lambda run: fill(filler))
    if landed is None:
        return None
    job_id, fault_at = landed
    try:
        failed = wait_ended(rig, job_id)
        wait_for(lambda: stages_stopped(rig, job_id), 60, what=f"job {job_id}'s stages to stop")
    finally:
        filler.unlink()
    leftovers = half_written(rig.store.root)
    clear = failed.status == "failed" and "space" in (failed.error or "").lower()
    with rig.app.app_context():
        prepare_retry(db.session, db.session.get(Job, job_id))
        db.session.commit()
        dispatch_job(job_id)
    job = wait_ended(rig, job_id)
    note = "" if clear else f"first ending: {failed.status}: {failed.error}"
    if leftovers:
        note += f" half-written files left: {leftovers[:3]}"
    return judged(
        rig,
        job_id,
        fault_at,
        right=clear and not leftovers and job.status == "succeeded",
        note=note.strip(),
    )


def fill(path: Path) -> None:
    """Write to `path` until its file system is full (unbuffered: nothing is left to flush)."""
    with path.open("wb", buffering=0) as handle:
        for block in (1 << 20, 4096):
            try:
                while True:
                    handle.write(b"\0" * block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise


def stages_stopped(rig: Rig, job_id: int) -> bool:
    """Whether no stage of the job is active any more."""
    with rig.app.app_context():
        db.session.expire_all()
        return not db.session.scalar(
            sa.select(sa.func.count())
            .select_from(StageRun)
            .where(
                StageRun.job_id == job_id,
                StageRun.status.in_(("running", "queued", "retrying")),
            )
        )


def half_written(root: Path) -> list[str]:
    """Temporary files of unfinished writes left under the artifact root."""
    return [
        str(p.relative_to(root))
        for p in root.rglob(".*")
        if p.is_file() and p.name != ".chaos-filler"
    ]


def partitioned(rig: Rig) -> Trial | None:
    """A GPU node on a second host loses its link mid-render for longer than the lease, then
    gets it back: the stage is re-run elsewhere as a new attempt, and the cut-off node's late
    result is discarded."""

    def inject(run: StageRun) -> None:
        chaos_netns.cut()
        try:
            time.sleep(PARTITION_S)
        finally:
            chaos_netns.mend()

    return faulted_trial(rig, inject, nodes=(FAR,))


SCENARIOS: dict[str, Callable[[Rig], Trial | None]] = {
    "pool_process_killed": pool_process_killed,
    "gpu_worker_killed": gpu_worker_killed,
    "backend_restarted": backend_restarted,
    "backend_lost": backend_lost,
    "redis_restarted": redis_restarted,
    "postgres_restarted": postgres_restarted,
    "web_and_sink_killed": web_and_sink_killed,
    "disk_full": disk_full,
    "partitioned": partitioned,
}
