"""Row writes of the sink: conditional UPDATEs that never touch a row in a terminal state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.job_progress import StageCost, current_stage, job_fraction, weigh_stages
from shared.models.status import JOB_MOVES, STAGE_MOVES, Status, checked, not_terminal_sql

log = logging.getLogger(__name__)

# The sink never moves a row out of a terminal state (the set the models define), and its one
# move is a queued stage seen running.
_NOT_TERMINAL = not_terminal_sql()
_QUEUED = Status.QUEUED.value
_STAGE_RUNNING = checked(STAGE_MOVES, Status.QUEUED, Status.RUNNING)
_JOB_RUNNING = checked(JOB_MOVES, Status.QUEUED, Status.RUNNING)

# Values are old-row values on the right of SET in Postgres, so the CASEs see the status
# before this statement.
_UPDATE_STAGE = sa.text(f"""
    UPDATE stage_runs SET
        step = COALESCE(:step, step),
        step_max = COALESCE(:step_max, step_max),
        progress = COALESCE(:progress, progress),
        node = COALESCE(:node, node),
        status = CASE WHEN status = '{_QUEUED}' AND :running THEN '{_STAGE_RUNNING}'
                      ELSE status END,
        started_at = CASE WHEN status = '{_QUEUED}' AND :running
                          THEN COALESCE(started_at, now()) ELSE started_at END,
        updated_at = now()
    WHERE id = :id AND job_id = :job_id AND {_NOT_TERMINAL}
""")

_SELECT_COSTS = sa.text("""
    SELECT stage, scene_id, segment, attempt, status, progress, step, step_max, inputs
    FROM stage_runs WHERE job_id = :job_id
""")

_UPDATE_JOB = sa.text(f"""
    UPDATE jobs SET
        progress = GREATEST(progress, :progress),
        current_stage = COALESCE(:stage, current_stage),
        eta_s = :eta_s,
        status = CASE WHEN status = '{_QUEUED}' AND :running THEN '{_JOB_RUNNING}' ELSE status END,
        started_at = CASE WHEN status = '{_QUEUED}' AND :running
                          THEN COALESCE(started_at, now()) ELSE started_at END,
        updated_at = now()
    WHERE id = :job_id AND {_NOT_TERMINAL}
    RETURNING progress, status, eta_s
""")


@dataclass(frozen=True)
class JobRowState:
    """What the job row holds after a write: None fields mean the row was terminal or gone."""

    progress: float
    status: str
    eta_s: float | None
    done: float
    total: float


def write_stage(session: Session, job_id: int, stage_id: int, state: dict[str, Any]) -> bool:
    """Write one stage's latest progress fields; True when the row took them."""
    progress = state.get("progress")
    result = session.execute(
        _UPDATE_STAGE,
        {
            "id": stage_id,
            "job_id": job_id,
            "step": _non_negative(state.get("step")),
            "step_max": _non_negative(state.get("max")),
            "progress": None if progress is None else min(max(float(progress), 0.0), 1.0),
            "node": None if state.get("node") is None else str(state["node"])[:64],
            "running": state.get("status") == "running",
        },
    )
    return result.rowcount == 1


def _non_negative(value: Any) -> int | None:
    return None if value is None else max(int(value), 0)


def load_costs(session: Session, job_id: int) -> list[StageCost]:
    """The job's stage runs as costs for shared.job_progress."""
    rows = session.execute(_SELECT_COSTS, {"job_id": job_id}).mappings()
    return [
        StageCost(
            stage=r["stage"],
            scene_id=r["scene_id"],
            attempt=r["attempt"],
            status=r["status"],
            progress=r["progress"],
            step=r["step"],
            step_max=r["step_max"],
            inputs=dict(r["inputs"] or {}),
            segment=r["segment"],
        )
        for r in rows
    ]


def write_job(session: Session, job_id: int, *, running: bool, eta_of) -> JobRowState | None:
    """Recompute the job's progress from its stage rows and write it (never 1.0 here).

    `eta_of(done, total)` turns observed work into seconds left. Returns None when the job
    row is terminal or missing, so nothing was written.
    """
    costs = load_costs(session, job_id)
    done, total = weigh_stages(costs)
    fraction = job_fraction(costs, "running")
    eta = eta_of(done, total)
    row = session.execute(
        _UPDATE_JOB,
        {
            "job_id": job_id,
            "progress": fraction,
            "stage": current_stage(costs),
            "eta_s": None if eta is None else max(float(eta), 0.0),
            "running": running,
        },
    ).first()
    if row is None:
        return None
    return JobRowState(
        progress=row.progress, status=row.status, eta_s=row.eta_s, done=done, total=total
    )
