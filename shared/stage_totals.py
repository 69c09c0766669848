"""Folding finished stage runs into the running totals /metrics reports (shared.models.totals).

The queue is drained and folded in one statement: a finish is counted exactly once, by
whichever fold deletes it (a scrape, or the beat's fold when nobody scrapes). Each run is read
as it is at the fold, after the transaction that finished it committed.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.stages import GPU_STAGE_NAMES

# Stage durations run from a second (a keyframe on a fast GPU) to tens of minutes (animate).
# The totals keep a count per bound: changing them needs a migration that recounts.
DURATION_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
FOLD_LOCK = 0x70E5F0  # folds take turns; a scrape waits for the one under way

_WITHIN = ", ".join(f"count(*) FILTER (WHERE seconds <= {bound})" for bound in DURATION_BUCKETS)
FOLD_SQL = f"""
WITH drained AS (
  DELETE FROM stage_finishes RETURNING run_id
), runs AS (
  -- Each drained run looked up by its id (LIMIT keeps the planner from joining the drained
  -- ids against every finished run when it misjudges how many were queued).
  SELECT r.* FROM drained d CROSS JOIN LATERAL (
    SELECT stage, status, error_detail,
           extract(epoch FROM finished_at - started_at)::float8 AS seconds
    FROM stage_runs WHERE id = d.run_id AND status IN ('succeeded', 'failed') LIMIT 1
  ) r
), durations AS (
  INSERT INTO stage_duration_totals AS t (stage, status, count, seconds, buckets)
  SELECT stage, status, count(*), sum(seconds), ARRAY[{_WITHIN}]
  FROM runs WHERE seconds IS NOT NULL GROUP BY stage, status
  ON CONFLICT (stage, status) DO UPDATE SET
    count = t.count + excluded.count,
    seconds = t.seconds + excluded.seconds,
    buckets = ARRAY(SELECT a + b FROM unnest(t.buckets, excluded.buckets)
                    WITH ORDINALITY AS u(a, b, n) ORDER BY n)
), errors AS (
  INSERT INTO comfyui_error_totals AS t (error_class, stage, count)
  SELECT coalesce(error_detail->>'exception_type', error_detail->>'type', 'unknown'), stage,
         count(*)
  FROM runs
  WHERE status = 'failed' AND error_detail IS NOT NULL AND stage = ANY(:gpu_stages)
  GROUP BY 1, 2
  ON CONFLICT (error_class, stage) DO UPDATE SET count = t.count + excluded.count
)
SELECT count(*) FROM drained
"""


def fold_finishes(session: Session) -> int:
    """Fold every queued finish into the totals in the caller's transaction; returns how many
    finishes it folded."""
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(FOLD_LOCK)))
    return session.execute(sa.text(FOLD_SQL), {"gpu_stages": list(GPU_STAGE_NAMES)}).scalar_one()
