"""Statuses move forward only, except retry."""

from __future__ import annotations

import pytest

from shared.models import Status


@pytest.mark.parametrize(
    "old, new",
    [("queued", "running"), ("running", "succeeded"), ("running", "retrying"),
     ("retrying", "running"), ("failed", "queued"), ("cancelled", "queued"),
     ("queued", "cancelled"), ("queued", "skipped"), ("skipped", "queued")],
)
def test_allowed_transitions(old, new):
    assert Status(old).can_become(Status(new))


@pytest.mark.parametrize(
    "old, new",
    [("succeeded", "running"), ("succeeded", "queued"), ("failed", "running"),
     ("queued", "succeeded"), ("cancelled", "running"), ("skipped", "running"),
     ("running", "skipped")],
)
def test_forbidden_transitions(old, new):
    assert not Status(old).can_become(Status(new))


def test_terminal_states():
    assert {s for s in Status if s.is_terminal} == {Status.SUCCEEDED, Status.FAILED,
                                                    Status.CANCELLED, Status.SKIPPED}


def test_jobs_are_never_retrying_or_skipped():
    from shared.models.status import JOB_STATUSES

    assert set(JOB_STATUSES) == {"queued", "running", "succeeded", "failed", "cancelled"}
