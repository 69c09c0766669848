"""Shared helpers of the progress tests: a Redis database of their own, committed rows, a sink.

The progress tests use their own Redis database number because job ids restart in every
test database, and keys are per job id.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from shared.app import create_base_app
from shared.config import Settings, redis_db_url
from shared.db import db
from tests import factories as f
from tests.support.processes import Process

PROGRESS_REDIS_DB = 11


def progress_settings(settings: Settings) -> Settings:
    """The session settings with the progress tests' own Redis database."""
    return settings.with_overrides(redis_url=redis_db_url(settings.redis_url, PROGRESS_REDIS_DB))


def migrated_base_app(settings: Settings) -> Flask:
    """The base app (config + db) on the session database, upgraded to the latest schema."""
    app = create_base_app(settings, name="progress-tests")
    with app.app_context():
        upgrade()
    return app


def flushed_client(settings: Settings) -> redis.Redis:
    """A client of the progress Redis database, emptied."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    client.flushdb()
    return client


def create_job(app: Flask, stages: list[dict[str, Any]]) -> tuple[int, list[int]]:
    """Commit a queued job with the given stage runs; returns (job id, stage run ids)."""
    with app.app_context():
        session = db.session
        job = f.make_job(session)
        ids = []
        for fields in stages:
            ids.append(f.make_stage_run(session, job_id=job.id, **fields).id)
        session.commit()
        job_id = job.id
        db.session.remove()
    return job_id, ids


def delete_job(app: Flask, job_id: int) -> None:
    """Remove a committed job with its stage runs, project and owner."""
    with app.app_context():
        owner = db.session.execute(
            sa.text("SELECT owner_id, project_id FROM jobs WHERE id=:id"), {"id": job_id}
        ).first()
        if owner is not None:
            db.session.execute(sa.text("DELETE FROM jobs WHERE id = :id"), {"id": job_id})
            db.session.execute(
                sa.text("DELETE FROM projects WHERE id = :id"), {"id": owner.project_id}
            )
            db.session.execute(sa.text("DELETE FROM users WHERE id = :id"), {"id": owner.owner_id})
        db.session.commit()
        db.session.remove()


def set_status(app: Flask, table: str, row_id: int, status: str, **extra: Any) -> None:
    """Write a terminal (or any) state the way a task does, committed."""
    assignments = ", ".join(["status = :status", *(f"{k} = :{k}" for k in extra)])
    with app.app_context():
        db.session.execute(
            sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id"),
            {"id": row_id, "status": status, **extra},
        )
        db.session.commit()
        db.session.remove()


def read_rows(app: Flask, job_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job row and its stage rows as plain dicts (stage rows by id)."""
    with app.app_context():
        job = (
            db.session.execute(sa.text("SELECT * FROM jobs WHERE id = :id"), {"id": job_id})
            .mappings()
            .one()
        )
        stages = (
            db.session.execute(
                sa.text("SELECT * FROM stage_runs WHERE job_id = :id ORDER BY id"), {"id": job_id}
            )
            .mappings()
            .all()
        )
        result = dict(job), [dict(s) for s in stages]
        db.session.remove()
    return result


def start_sink(
    settings: Settings, log_dir: Path, *, consumer: str = "sink-test", min_interval: float = 0.25
) -> Process:
    """`python -m workers.progress_sink` as a real subprocess."""
    argv = [
        sys.executable,
        "-m",
        "workers.progress_sink",
        "--consumer",
        consumer,
        "--min-interval",
        str(min_interval),
    ]
    return Process(argv, settings.as_environ(), log_dir / f"{consumer}.log")
