"""Benchmark: the reads a status poll, a GPU stage's placement and a retake make stay as fast
once the farm has months of finished jobs behind it.

Run from the repository root: `python -m bench.history` (about a minute; in `make bench`). It
creates its own database on the configured Postgres (migrated) and seeds one running episode
job of three scenes. It times three reads of that job, each the median of READS calls: the
status endpoint's version read (`web.status_cache`'s prepared query, three subqueries over the
job's stage runs), a placement's load read (`tasks.pipeline.routing.backend_load`: the running
stages everywhere and this job's failures) and a retake's lookup of a scene's episode job
(`tasks.pipeline.control.latest_render_of`). Then it adds HISTORY_JOBS finished jobs of
RUNS_PER_JOB stage runs each (three on scenes of another episode, then compile and mix; one run
in 20 failed), analyzes, and times the same reads again. Figures: each read's median before and
after, and after/before; bar: each at most GROWTH_BAR (the reads find the job's rows by index
instead of scanning the history).
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from shared.app import create_base_app
from shared.config import load_settings
from shared.db import db
from shared.models import Episode, Job, Project, Scene, StageRun, User
from tasks.pipeline.control import latest_render_of
from tasks.pipeline.routing import backend_load
from tests.support.database import create_database, drop_database, with_database
from web.status_cache import CALLER_AND_VERSION

HISTORY_JOBS = 200_000
RUNS_PER_JOB = 5  # as HISTORY_SQL makes them
READS = 200
GROWTH_BAR = 3.0

HISTORY_SCENES = 50
# Finished jobs re-rendering the history episode's scenes (three stages on one scene each, then
# compile and mix), spread over eight backends.
HISTORY_SQL = f"""
WITH history AS (
  INSERT INTO jobs (kind, owner_id, project_id, episode_id, params, priority, status, progress)
  SELECT 'episode', :owner_id, :project_id, :episode_id, '{{}}', 5, 'succeeded', 1.0
  FROM generate_series(1, {HISTORY_JOBS})
  RETURNING id
)
INSERT INTO stage_runs (job_id, scene_id, stage, attempt, status, backend, deliveries, step,
                        step_max, progress, inputs)
SELECT h.id, CASE WHEN s.per_scene THEN (:scene_ids)[1 + h.id % {HISTORY_SCENES}] END,
       s.stage, 1, CASE WHEN (h.id + s.n) % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
       'n' || (h.id % 8), 1, 0, 0, 1.0, '{{}}'
FROM history h CROSS JOIN (VALUES (1, 'keyframe', true), (2, 'animate', true),
  (3, 'interpolate', true), (4, 'compile', false), (5, 'mix', false)) AS s(n, stage, per_scene)
"""


def seed() -> tuple[int, int, int]:
    """An owner's running episode job of three scenes, one of its stages running on n2;
    returns (owner id, job id, a scene id)."""
    owner = User(email=f"history-{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
    db.session.add(owner)
    db.session.flush()
    project = Project(owner_id=owner.id, name="history")
    db.session.add(project)
    db.session.flush()
    episode = Episode(project_id=project.id, number=1, title="history")
    db.session.add(episode)
    db.session.flush()
    scenes = [Scene(episode_id=episode.id, order=i, prompt=f"shot {i}") for i in range(3)]
    db.session.add_all(scenes)
    db.session.flush()
    job = Job(kind="episode", owner_id=owner.id, project_id=project.id,
              episode_id=episode.id, status="running")  # fmt: skip
    db.session.add(job)
    db.session.flush()
    db.session.add_all(
        StageRun(
            job_id=job.id,
            scene_id=scene.id,
            stage="keyframe",
            attempt=1,
            backend="n1",
            status="running" if i == 0 else "succeeded",
        )  # fmt: skip
        for i, scene in enumerate(scenes)
    )
    db.session.commit()
    return owner.id, job.id, scenes[0].id


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


def time_reads(owner_id: int, job_id: int, scene_id: int) -> dict[str, float]:
    """Each read's median in milliseconds."""
    reads = {
        "status_version": lambda: CALLER_AND_VERSION.execute(
            db.session, {"job_id": job_id, "user_id": owner_id}
        ).one(),
        "placement_load": lambda: backend_load(db.session, job_id),
        "retake_lookup": lambda: latest_render_of(db.session, scene_id),
    }
    return {name: round(median_ms(read), 3) for name, read in reads.items()}


def add_history(owner_id: int) -> None:
    """HISTORY_JOBS finished jobs of the same owner and project, on an episode of
    HISTORY_SCENES scenes of their own, analyzed."""
    project_id = db.session.scalar(sa.select(Project.id).where(Project.owner_id == owner_id))
    episode = Episode(project_id=project_id, number=2, title="history")
    db.session.add(episode)
    db.session.flush()
    scenes = [
        Scene(episode_id=episode.id, order=i, prompt=f"take {i}") for i in range(HISTORY_SCENES)
    ]
    db.session.add_all(scenes)
    db.session.flush()
    db.session.execute(
        sa.text(HISTORY_SQL),
        {"owner_id": owner_id, "project_id": project_id, "episode_id": episode.id,
         "scene_ids": [scene.id for scene in scenes]},
    )  # fmt: skip
    db.session.commit()
    db.session.execute(sa.text("ANALYZE jobs, stage_runs"))
    db.session.commit()


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
            owner_id, job_id, scene_id = seed()
            before = time_reads(owner_id, job_id, scene_id)
            started = time.perf_counter()
            add_history(owner_id)
            history_s = time.perf_counter() - started
            after = time_reads(owner_id, job_id, scene_id)
            db.engine.dispose()
    finally:
        drop_database(url)
    growth = {name: round(after[name] / before[name], 2) for name in before}
    figures = {
        "history_stage_runs": HISTORY_JOBS * RUNS_PER_JOB,
        "history_insert_s": round(history_s, 1),
        "before_ms": before,
        "after_ms": after,
        "growth": growth,
        "bar_growth": GROWTH_BAR,
    }
    print(json.dumps(figures))
    return 0 if all(g <= GROWTH_BAR for g in growth.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
