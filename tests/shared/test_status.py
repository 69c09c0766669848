"""Statuses move forward only, except retry; every move goes through one function."""

from __future__ import annotations

import pytest

from shared.models import Job, StageRun, Status
from shared.models.status import (
    JOB_MOVES,
    JOB_STATUSES,
    STAGE_MOVES,
    IllegalTransition,
    can_move,
    checked,
    move,
)


@pytest.mark.parametrize(
    "old, new",
    [
        ("queued", "running"),
        ("running", "succeeded"),
        ("running", "queued"),
        ("retrying", "running"),
        ("queued", "cancelled"),
        ("queued", "skipped"),
        ("skipped", "queued"),
        ("running", "running"),
    ],
)
def test_allowed_stage_moves(old, new):
    assert can_move(STAGE_MOVES, old, Status(new))


@pytest.mark.parametrize(
    "old, new",
    [
        ("succeeded", "running"),
        ("succeeded", "queued"),
        ("failed", "running"),
        ("failed", "queued"),
        ("queued", "succeeded"),
        ("cancelled", "running"),
        ("skipped", "running"),
        ("running", "skipped"),
    ],
)
def test_forbidden_stage_moves(old, new):
    assert not can_move(STAGE_MOVES, old, Status(new))


def test_an_ended_job_is_queued_again_by_a_retry_but_a_running_one_is_not():
    for ended in ("succeeded", "failed", "cancelled"):
        assert can_move(JOB_MOVES, ended, Status.QUEUED)
    assert not can_move(JOB_MOVES, "running", Status.QUEUED)
    assert not can_move(JOB_MOVES, "queued", Status.SKIPPED)


def test_move_refuses_an_illegal_move_and_leaves_the_row():
    run = StageRun(id=7, stage="mix", status="succeeded")
    with pytest.raises(IllegalTransition) as caught:
        move(run, Status.RUNNING)
    assert "StageRun 7 cannot go from succeeded to running" in caught.value.message
    assert run.status == "succeeded"
    job = Job(id=3, status="running")
    move(job, Status.FAILED)
    assert job.status == "failed"


def test_bulk_updates_check_their_move():
    assert checked(STAGE_MOVES, Status.RUNNING, Status.QUEUED) == "queued"
    with pytest.raises(IllegalTransition):
        checked(STAGE_MOVES, Status.SUCCEEDED, Status.QUEUED)


def test_terminal_states():
    assert {s for s in Status if s.is_terminal} == {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELLED,
        Status.SKIPPED,
    }


def test_jobs_are_never_retrying_or_skipped():
    assert set(JOB_STATUSES) == {"queued", "running", "succeeded", "failed", "cancelled"}
