"""Benchmark: the reads a status poll, a GPU stage's placement, a retake, the failed-stages
page and a /metrics scrape make cost the same whether the farm keeps thousands or a million
finished stage runs.

Run from the repository root: `python -m bench.history` (about a minute; in `make bench`). It
creates its own database on the configured Postgres (migrated) and seeds one running episode
job of three scenes (one stage failed) and BASE_JOBS finished jobs of RUNS_PER_JOB stage runs
each (three on scenes of another episode, then compile and mix; one run in 20 failed, never
retried). It times five reads, each the median of READS calls: the status endpoint's version
read of the running job (`web.status_cache`'s prepared query, three subqueries over the job's
stage runs), a placement's load read (`tasks.pipeline.routing.backend_load`: the running stages
everywhere and this job's failures), a retake's lookup of a scene's episode job
(`tasks.pipeline.control.latest_render_of`), the dashboard's failed-stages page
(`web.dashboard.triage.list_failed_stages`, its full page of FAILED_LIMIT rows both times) and
what a /metrics scrape reads of the stage runs (`shared.stage_totals.fold_finishes`, then the
duration and ComfyUI error totals). Then it adds finished jobs up to HISTORY_JOBS (folded into
the metrics' totals, as the beat folds them), analyzes, and times the same reads again.
Figures: each read's median at both sizes, and large/small; bar: each at most GROWTH_BAR (the
reads find their rows by index instead of scanning the history).
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from shared.app import create_base_app
from shared.config import load_settings
from shared.db import db
from shared.models import Episode, Job, Project, Scene, StageRun, User
from shared.stage_totals import fold_finishes
from tasks.pipeline.control import latest_render_of
from tasks.pipeline.routing import backend_load
from tests.support.database import create_database, drop_database, with_database
from web.dashboard.triage import list_failed_stages
from web.metrics import collect_comfyui_errors, collect_stage_durations
from web.status_cache import CALLER_AND_VERSION

BASE_JOBS = 4_000
HISTORY_JOBS = 200_000
RUNS_PER_JOB = 5  # as HISTORY_SQL makes them
READS = 200
GROWTH_BAR = 3.0

HISTORY_SCENES = 50
# Finished jobs re-rendering the history episode's scenes (three stages on one scene each, then
# compile and mix), spread over eight backends, each a second after the one before.
HISTORY_SQL = f"""
WITH history AS (
  INSERT INTO jobs (kind, owner_id, project_id, episode_id, params, priority, status, progress)
  SELECT 'episode', :owner_id, :project_id, :episode_id, '{{}}', 5, 'succeeded', 1.0
  FROM generate_series(1, :jobs)
  RETURNING id
)
INSERT INTO stage_runs (job_id, scene_id, stage, attempt, status, backend, deliveries, step,
                        step_max, progress, inputs, error_detail, started_at, finished_at)
SELECT h.id, CASE WHEN s.per_scene THEN (:scene_ids)[1 + h.id % {HISTORY_SCENES}] END,
       s.stage, 1, CASE WHEN f.failed THEN 'failed' ELSE 'succeeded' END,
       'n' || (h.id % 8), 1, 0, 0, 1.0, '{{}}',
       CASE WHEN f.failed THEN '{{"type": "ComfyRejected"}}'::jsonb END,
       t.finished - make_interval(secs => s.n), t.finished
FROM history h
CROSS JOIN (VALUES (1, 'keyframe', true), (2, 'animate', true), (3, 'interpolate', true),
  (4, 'compile', false), (5, 'mix', false)) AS s(n, stage, per_scene)
CROSS JOIN LATERAL (SELECT (h.id + s.n) % 20 = 0 AS failed) AS f
CROSS JOIN LATERAL (SELECT now() - make_interval(days => 365, secs => -h.id) AS finished) AS t
"""


@dataclass(frozen=True)
class Rows:
    """The seeded rows the reads ask about, and where the history goes."""

    owner_id: int
    project_id: int
    job_id: int
    scene_id: int
    history_episode_id: int
    history_scene_ids: list[int]


def seed() -> Rows:
    """An owner's running episode job of three scenes (one running on n1, one failed on n2),
    and a second episode for the history to render."""
    owner = User(email=f"history-{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
    db.session.add(owner)
    db.session.flush()
    project = Project(owner_id=owner.id, name="history")
    db.session.add(project)
    db.session.flush()
    episodes = [Episode(project_id=project.id, number=n, title="history") for n in (1, 2)]
    db.session.add_all(episodes)
    db.session.flush()
    scenes = [Scene(episode_id=episodes[0].id, order=i, prompt=f"shot {i}") for i in range(3)]
    takes = [
        Scene(episode_id=episodes[1].id, order=i, prompt=f"take {i}") for i in range(HISTORY_SCENES)
    ]
    db.session.add_all(scenes + takes)
    db.session.flush()
    job = Job(kind="episode", owner_id=owner.id, project_id=project.id,
              episode_id=episodes[0].id, status="running")  # fmt: skip
    db.session.add(job)
    db.session.flush()
    runs = [("running", "n1"), ("failed", "n2"), ("succeeded", "n3")]
    db.session.add_all(
        StageRun(
            job_id=job.id,
            scene_id=scene.id,
            stage="keyframe",
            attempt=1,
            status=status,
            backend=backend,
        )
        for scene, (status, backend) in zip(scenes, runs, strict=True)
    )
    db.session.commit()
    return Rows(owner.id, project.id, job.id, scenes[0].id, episodes[1].id,
                [take.id for take in takes])  # fmt: skip


def median_ms(read: Callable[[], object]) -> float:
    """The median wall time of `read` over READS calls, after a few to warm the plan caches."""
    for _ in range(10):
        read()
    times = []
    for _ in range(READS):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    db.session.rollback()
    return statistics.median(times) * 1000


def time_reads(rows: Rows) -> dict[str, float]:
    """Each read's median in milliseconds."""
    reads = {
        "status_version": lambda: CALLER_AND_VERSION.execute(
            db.session, {"job_id": rows.job_id, "user_id": rows.owner_id}
        ).one(),
        "placement_load": lambda: backend_load(db.session, rows.job_id),
        "retake_lookup": lambda: latest_render_of(db.session, rows.scene_id),
        "failed_stages_page": list_failed_stages,
        "metrics_scrape": scrape_stage_metrics,
    }
    return {name: round(median_ms(read), 3) for name, read in reads.items()}


def scrape_stage_metrics() -> None:
    """What /metrics reads of the stage runs: the finishes since the last fold, then the
    totals (its jobs-by-status count is not part of it: see docs/scaling.md)."""
    fold_finishes(db.session)
    collect_stage_durations()
    collect_comfyui_errors()


def add_history(rows: Rows, jobs: int) -> None:
    """`jobs` more finished jobs of the same owner, on the history episode, analyzed and
    folded into the metrics' totals (as the beat folds them)."""
    db.session.execute(
        sa.text(HISTORY_SQL),
        {"owner_id": rows.owner_id, "project_id": rows.project_id,
         "episode_id": rows.history_episode_id, "scene_ids": rows.history_scene_ids,
         "jobs": jobs},
    )  # fmt: skip
    fold_finishes(db.session)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE jobs, stage_runs"))
    db.session.commit()
    # The drained queue's dead rows cleared, as autovacuum soon does on so busy a table.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE stage_finishes"))


def main() -> int:
    """Seed, time, add the history, time again; print the figures; 1 when the bar is missed."""
    from flask_migrate import upgrade

    logging.basicConfig(level=logging.WARNING)
    base = load_settings()
    url = with_database(base.database_url, f"tower_bench_history_{uuid.uuid4().hex[:8]}")
    create_database(url)
    try:
        app = create_base_app(base.with_overrides(env="test", database_url=url), name="bench")
        with app.app_context():
            upgrade()
            rows = seed()
            add_history(rows, BASE_JOBS)
            small = time_reads(rows)
            started = time.perf_counter()
            add_history(rows, HISTORY_JOBS - BASE_JOBS)
            history_s = time.perf_counter() - started
            large = time_reads(rows)
            db.engine.dispose()
    finally:
        drop_database(url)
    growth = {name: round(large[name] / small[name], 2) for name in small}
    figures = {
        "small_stage_runs": BASE_JOBS * RUNS_PER_JOB,
        "large_stage_runs": HISTORY_JOBS * RUNS_PER_JOB,
        "history_insert_s": round(history_s, 1),
        "small_ms": small,
        "large_ms": large,
        "growth": growth,
        "bar_growth": GROWTH_BAR,
    }
    print(json.dumps(figures))
    return 0 if all(g <= GROWTH_BAR for g in growth.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
