"""TowerClient against the live farm: API errors carry their fields; the SSE stream ends."""

from __future__ import annotations

import pytest
from tower_client.api import TowerClient
from tower_client.errors import ApiError


@pytest.fixture
def tower(live):
    """A client logged in as the operator."""
    with TowerClient(live.url) as client:
        client.login(live.email, live.password)
        yield client


def test_a_refused_row_is_an_api_error_naming_the_field(tower):
    project = tower.create_project("Client test")
    episode = tower.create_episode(project["id"], 1, "One")
    with pytest.raises(ApiError) as caught:
        tower.create_scene(episode["id"], 1, "a scene", -1)
    assert caught.value.status == 422
    assert "duration_s" in caught.value.fields
    assert "duration_s" in str(caught.value)


def test_an_unknown_job_is_a_404(tower):
    with pytest.raises(ApiError) as caught:
        tower.status(999999)
    assert caught.value.status == 404


def test_the_event_stream_of_a_finished_job_ends_with_its_state(tower, finished_job):
    events = list(tower.events(finished_job))
    assert events, "no event"
    assert events[-1].kind == "job"
    assert events[-1].data["status"] == "succeeded"
    # Earlier events may be trimmed from a capped stream (then a snapshot stands for them).
    assert all(e.kind in ("stage", "job") for e in events)


def test_a_status_asked_again_without_a_change_is_a_304_read_from_the_last_report(
    tower, finished_job
):
    answers = []
    tower.session.hooks["response"].append(lambda r, *args, **kwargs: answers.append(r.status_code))
    first = tower.status(finished_job)
    again = tower.status(finished_job)
    again["status"] = "edited by the caller"
    third = tower.status(finished_job)
    assert answers == [200, 304, 304]
    assert third == first and first["status"] == "succeeded"
