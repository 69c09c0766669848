"""Row writes of the sink: conditional UPDATEs that never touch a row in a terminal state."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.job_progress import StageCost, current_stage, job_fraction, weigh_stages
from shared.models.status import JOB_MOVES, STAGE_MOVES, Status, checked, not_terminal_sql

log = logging.getLogger(__name__)

# The sink never moves a row out of a terminal state (the set the models define), and its one
# move is a queued stage seen running.
_QUEUED = Status.QUEUED.value
_STAGE_RUNNING = checked(STAGE_MOVES, Status.QUEUED, Status.RUNNING)
_JOB_RUNNING = checked(JOB_MOVES, Status.QUEUED, Status.RUNNING)

# Rows are locked in id order before they are written, the farm's lock order
# (tasks.pipeline.locking): stage rows, then job rows.
_LOCK_STAGES = sa.text("""
    SELECT id FROM stage_runs
    WHERE id = ANY(CAST(:ids AS bigint[])) AND job_id = ANY(CAST(:job_ids AS bigint[]))
    ORDER BY id FOR NO KEY UPDATE
""")
_LOCK_JOBS = sa.text("""
    SELECT id FROM jobs WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR NO KEY UPDATE
""")

# Values are old-row values on the right of SET in Postgres, so the CASEs see the status
# before this statement.
_UPDATE_STAGES = sa.text(f"""
    UPDATE stage_runs AS s SET
        step = COALESCE(v.step, s.step),
        step_max = COALESCE(v.step_max, s.step_max),
        progress = COALESCE(v.progress, s.progress),
        node = COALESCE(v.node, s.node),
        status = CASE WHEN s.status = '{_QUEUED}' AND v.running THEN '{_STAGE_RUNNING}'
                      ELSE s.status END,
        started_at = CASE WHEN s.status = '{_QUEUED}' AND v.running
                          THEN COALESCE(s.started_at, now()) ELSE s.started_at END,
        updated_at = now()
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:job_ids AS bigint[]), CAST(:steps AS integer[]),
        CAST(:step_maxes AS integer[]), CAST(:progresses AS double precision[]),
        CAST(:nodes AS varchar[]), CAST(:running AS boolean[])
    ) AS v(id, job_id, step, step_max, progress, node, running)
    WHERE s.id = v.id AND s.job_id = v.job_id AND {not_terminal_sql("s.status")}
    RETURNING s.id
""")

_SELECT_COSTS = sa.text("""
    SELECT job_id, stage, scene_id, segment, attempt, status, progress, step, step_max, inputs
    FROM stage_runs WHERE job_id = ANY(CAST(:job_ids AS bigint[]))
""")

_UPDATE_JOBS = sa.text(f"""
    UPDATE jobs AS j SET
        progress = GREATEST(j.progress, v.progress),
        current_stage = COALESCE(v.stage, j.current_stage),
        eta_s = v.eta_s,
        status = CASE WHEN j.status = '{_QUEUED}' AND v.running THEN '{_JOB_RUNNING}'
                      ELSE j.status END,
        started_at = CASE WHEN j.status = '{_QUEUED}' AND v.running
                          THEN COALESCE(j.started_at, now()) ELSE j.started_at END,
        updated_at = now()
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:progresses AS double precision[]),
        CAST(:stages AS varchar[]), CAST(:etas AS double precision[]),
        CAST(:running AS boolean[])
    ) AS v(id, progress, stage, eta_s, running)
    WHERE j.id = v.id AND {not_terminal_sql("j.status")}
    RETURNING j.id, j.progress, j.status, j.eta_s
""")


@dataclass(frozen=True)
class JobRowState:
    """What the job row holds after a write: None fields mean the row was terminal or gone."""

    progress: float
    status: str
    eta_s: float | None
    done: float
    total: float


@dataclass(frozen=True)
class JobWrite:
    """One job's rows to write: its stages' latest states (by stage id), whether it runs,
    and how to turn its observed work into seconds left (`eta_of(done, total)`)."""

    job_id: int
    stages: dict[int, dict[str, Any]]
    running: bool
    eta_of: Callable[[float, float], float | None]


def write_progress(session: Session, writes: list[JobWrite]) -> tuple[dict[int, JobRowState], int]:
    """Write the jobs' stage rows, then their job rows (progress recomputed from the stage
    rows, never 1.0 here), each kind in one statement after locking it in id order.

    Returns each written job's row, without the jobs whose row is terminal or gone, and how
    many stage rows took their state.
    """
    stage_rows = write_stages(session, writes)
    costs = load_costs(session, [w.job_id for w in writes])
    return write_jobs(session, writes, costs), stage_rows


def write_stages(session: Session, writes: list[JobWrite]) -> int:
    """Write every stage's latest progress fields; how many rows took them (terminal rows
    never do)."""
    states = sorted(
        (stage_id, w.job_id, state) for w in writes for stage_id, state in w.stages.items()
    )
    if not states:
        return 0
    ids = [stage_id for stage_id, _, _ in states]
    if len(states) > 1:  # one row needs no order
        session.execute(_LOCK_STAGES, {"ids": ids, "job_ids": [w.job_id for w in writes]})
    result = session.execute(
        _UPDATE_STAGES,
        {
            "ids": ids,
            "job_ids": [job_id for _, job_id, _ in states],
            "steps": [_non_negative(state.get("step")) for _, _, state in states],
            "step_maxes": [_non_negative(state.get("max")) for _, _, state in states],
            "progresses": [_fraction(state.get("progress")) for _, _, state in states],
            "nodes": [_node(state.get("node")) for _, _, state in states],
            "running": [state.get("status") == "running" for _, _, state in states],
        },
    )
    return len(result.all())


def _non_negative(value: Any) -> int | None:
    return None if value is None else max(int(value), 0)


def _fraction(value: Any) -> float | None:
    return None if value is None else min(max(float(value), 0.0), 1.0)


def _node(value: Any) -> str | None:
    return None if value is None else str(value)[:64]


def load_costs(session: Session, job_ids: list[int]) -> dict[int, list[StageCost]]:
    """The jobs' stage runs as costs for shared.job_progress, by job id."""
    costs: dict[int, list[StageCost]] = {job_id: [] for job_id in job_ids}
    for row in session.execute(_SELECT_COSTS, {"job_ids": job_ids}):
        costs[row.job_id].append(StageCost.from_row(row))
    return costs


def write_jobs(
    session: Session, writes: list[JobWrite], costs: dict[int, list[StageCost]]
) -> dict[int, JobRowState]:
    """Write each job's progress, current stage, ETA and running state from its stage rows;
    the rows written (a terminal or missing job row is not)."""
    writes = sorted(writes, key=lambda w: w.job_id)
    weights = {w.job_id: weigh_stages(costs[w.job_id]) for w in writes}
    etas = [w.eta_of(*weights[w.job_id]) for w in writes]
    ids = [w.job_id for w in writes]
    if len(ids) > 1:
        session.execute(_LOCK_JOBS, {"ids": ids})
    rows = session.execute(
        _UPDATE_JOBS,
        {
            "ids": ids,
            "progresses": [job_fraction(costs[w.job_id], "running") for w in writes],
            "stages": [current_stage(costs[w.job_id]) for w in writes],
            "etas": [None if eta is None else max(float(eta), 0.0) for eta in etas],
            "running": [w.running for w in writes],
        },
    ).all()
    return {
        row.id: JobRowState(
            progress=row.progress,
            status=row.status,
            eta_s=row.eta_s,
            done=weights[row.id][0],
            total=weights[row.id][1],
        )
        for row in rows
    }
