"""Finished stage runs are counted into /metrics' totals once each, when they end, by whichever
fold comes first, and stay counted (Prometheus' counters only grow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from shared.models import ComfyErrorTotal, Job, StageDurationTotal, StageRun
from shared.stage_totals import DURATION_BUCKETS, fold_finishes
from tests import factories


def folded(session) -> tuple[dict, dict]:
    """Fold what is queued, then the duration totals by (stage, status) and the error totals
    by (class, stage)."""
    fold_finishes(session)
    durations = {
        (t.stage, t.status): (t.count, t.seconds, t.buckets)
        for t in session.scalars(sa.select(StageDurationTotal))
    }
    errors = {
        (t.error_class, t.stage): t.count for t in session.scalars(sa.select(ComfyErrorTotal))
    }
    return durations, errors


def finished(session, stage: str, status: str, seconds: float, detail=None) -> StageRun:
    """A run of a new job that ran `seconds` and ended in `status` (one UPDATE, as the farm
    records it)."""
    run = factories.make_stage_run(session, stage=stage, status="running")
    run.started_at = datetime.now(UTC) - timedelta(hours=1)
    session.flush()
    run.status = status
    run.finished_at = run.started_at + timedelta(seconds=seconds)
    run.error_detail = detail
    session.flush()
    return run


def durations_grew(before: dict, after: dict, key) -> tuple[int, float, list[int]]:
    """How one duration total grew between two folds: count, seconds, each bucket."""
    count, seconds, buckets = after[key]
    old_count, old_seconds, old_buckets = before.get(key, (0, 0.0, [0] * len(DURATION_BUCKETS)))
    return (
        count - old_count,
        round(seconds - old_seconds, 6),
        [b - a for a, b in zip(old_buckets, buckets, strict=True)],
    )


def test_a_run_is_counted_once_when_it_ends(db_session) -> None:
    before, _ = folded(db_session)
    run = finished(db_session, "keyframe", "succeeded", 0.5)
    first, _ = folded(db_session)
    # Saved again with the same status: not a second finish.
    db_session.execute(sa.update(StageRun).where(StageRun.id == run.id).values(status="succeeded"))
    second, _ = folded(db_session)
    within_one = [1] * len(DURATION_BUCKETS)
    assert durations_grew(before, first, ("keyframe", "succeeded")) == (1, 0.5, within_one)
    assert second == first


def test_folds_add_up_bucket_by_bucket(db_session) -> None:
    before, _ = folded(db_session)
    finished(db_session, "animate", "succeeded", 0.5)
    folded(db_session)
    finished(db_session, "animate", "succeeded", 7.0)
    after, _ = folded(db_session)
    expected = [(1 if bound < 7 else 2) for bound in DURATION_BUCKETS]
    assert durations_grew(before, after, ("animate", "succeeded")) == (2, 7.5, expected)


def test_gpu_failures_are_counted_by_class_and_other_stages_are_not(db_session) -> None:
    _, before = folded(db_session)
    oom = {"type": "ComfyExecutionFailed", "exception_type": "torch.OutOfMemoryError"}
    finished(db_session, "animate", "failed", 3.0, oom)
    finished(db_session, "interpolate", "failed", 1.0, {"type": "ComfyRejected"})
    finished(db_session, "compile", "failed", 1.0, {"type": "FfmpegError"})
    durations, after = folded(db_session)
    grown = {key: count - before.get(key, 0) for key, count in after.items()}
    assert grown[("torch.OutOfMemoryError", "animate")] == 1
    assert grown[("ComfyRejected", "interpolate")] == 1
    assert ("FfmpegError", "compile") not in after
    assert ("compile", "failed") in durations


def test_runs_that_have_not_ended_or_never_started_add_no_duration(db_session) -> None:
    before, _ = folded(db_session)
    factories.make_stage_run(db_session, stage="mix", status="running")
    factories.make_stage_run(db_session, stage="mix", status="failed")  # failed before starting
    after, _ = folded(db_session)
    assert after.get(("mix", "failed")) == before.get(("mix", "failed"))
    assert after.get(("mix", "running")) is None


def test_a_counted_run_stays_counted_when_its_job_is_deleted(db_session) -> None:
    run = finished(db_session, "interpolate", "succeeded", 2.0)
    counted, _ = folded(db_session)
    db_session.delete(db_session.get(Job, run.job_id))
    db_session.flush()
    after, _ = folded(db_session)
    assert after == counted
