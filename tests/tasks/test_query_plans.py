"""The reads a status poll, a placement, a retake, the failed-stages page and a metrics scrape
make find their stage runs by index, so they cost the same however many finished jobs the farm
keeps (bench.history times them; here Postgres's plans are read, sequential scans priced out)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.stage_totals import fold_finishes
from tasks.pipeline.control import latest_render_of
from tasks.pipeline.routing import backend_load
from tests import factories
from web.dashboard.triage import list_failed_stages
from web.metrics import collect_comfyui_errors, collect_stage_durations
from web.status_cache import CALLER_AND_VERSION


def plans_of(session: Session, read: Callable[[], object]) -> list[str]:
    """Postgres's plan of each query `read` runs, planned with sequential scans disabled (a
    table read in full then shows as a Seq Scan all the same)."""
    statements: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(cursor.mogrify(statement, parameters).decode())

    connection = session.connection()
    sa.event.listen(connection, "before_cursor_execute", capture)
    try:
        read()
    finally:
        sa.event.remove(connection, "before_cursor_execute", capture)
    cursor = connection.connection.cursor()
    cursor.execute("SET LOCAL enable_seqscan = off")
    plans = []
    for statement in statements:
        if statement.lstrip().upper().startswith(("SELECT", "WITH", "EXECUTE")):
            cursor.execute(f"EXPLAIN {statement}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


# Other jobs' finished runs, many failed, and some on scenes: a planner that knows the table
# holds more than this job weighs a scan of every failed row against the job's own index.
HISTORY_SQL = """
WITH history AS (
  INSERT INTO jobs (kind, owner_id, project_id, params, priority, status, progress)
  SELECT 'scene', :owner_id, :project_id, '{}', 5, 'failed', 1.0 FROM generate_series(1, 500)
  RETURNING id
)
INSERT INTO stage_runs (job_id, scene_id, stage, attempt, status, backend, deliveries, step,
                        step_max, progress, inputs)
SELECT h.id, CASE WHEN n < 4 THEN :scene_id END, 'keyframe', n,
       CASE WHEN n % 2 = 0 THEN 'failed' ELSE 'succeeded' END, 'n1', 1, 0, 0, 1.0, '{}'
FROM history h CROSS JOIN generate_series(1, 6) AS n
"""


def a_job_with_a_failure(session: Session):
    """A job with a failed run on a scene and a running one, beside 3,000 runs of others."""
    history_scene = factories.make_scene(session)
    scene = factories.make_scene(session)
    run = factories.make_stage_run(session, scene_id=scene.id, status="failed", backend="n1")
    factories.make_stage_run(session, job_id=run.job_id, status="running", backend="n2")
    job = run.job
    session.execute(
        sa.text(HISTORY_SQL),
        {"owner_id": job.owner_id, "project_id": job.project_id, "scene_id": history_scene.id},
    )
    session.execute(sa.text("ANALYZE jobs, stage_runs"))
    return run


def test_the_status_version_read_finds_the_jobs_runs_by_index(db_session) -> None:
    run = a_job_with_a_failure(db_session)
    values = {"job_id": run.job_id, "user_id": run.job.owner_id}
    [plan] = plans_of(
        db_session, lambda: CALLER_AND_VERSION.execute(db_session.connection(), values).one()
    )
    assert "Seq Scan on stage_runs" not in plan
    assert "ix_stage_runs_job_status" in plan


def test_a_placement_reads_only_this_jobs_failures(db_session) -> None:
    run = a_job_with_a_failure(db_session)
    [plan] = plans_of(db_session, lambda: backend_load(db_session, run.job_id))
    assert "Seq Scan on stage_runs" not in plan
    # Not every failed row of the farm, filtered down to this job's afterwards.
    assert "ix_stage_runs_job_status" in plan


def test_a_retake_finds_the_scenes_runs_by_index(db_session) -> None:
    run = a_job_with_a_failure(db_session)
    [plan] = plans_of(db_session, lambda: latest_render_of(db_session, run.scene_id))
    assert "Seq Scan on stage_runs" not in plan
    assert "ix_stage_runs_scene" in plan


def test_the_failed_stages_page_reads_the_newest_failures_first_by_index(db_session) -> None:
    a_job_with_a_failure(db_session)
    plans = plans_of(db_session, lambda: list_failed_stages(limit=20))
    assert not any("Seq Scan on stage_runs" in plan for plan in plans)
    assert "ix_stage_runs_failed_recent" in plans[0]


def test_a_metrics_scrape_reads_only_what_finished_since_the_last(db_session) -> None:
    a_job_with_a_failure(db_session)
    fold_finishes(db_session)  # the history, as the first scrape or the beat folds it

    def scrape() -> None:
        fold_finishes(db_session)
        collect_stage_durations()
        collect_comfyui_errors()

    plans = plans_of(db_session, scrape)
    reads = [
        line.strip().removeprefix("->").strip()
        for plan in plans
        for line in plan.splitlines()
        if " on stage_runs" in line
    ]
    # The runs the fold drained, looked up by id; nothing scans the finished runs at large.
    assert reads, plans
    assert all(read.startswith("Index Scan using pk_stage_runs on stage_runs") for read in reads), (
        reads
    )
