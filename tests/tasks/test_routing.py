"""Routing prefers a backend that has the stage's checkpoint loaded, unless told to route blind;
a checkpoint switch is taken on only by a backend that would otherwise sit idle."""

from __future__ import annotations

from shared.models.columns import utcnow
from tasks.pipeline.routing import place
from tests import factories
from workers.workflows import Requirements


def two_backends(db_session):
    """`here` (checkpoint b loaded) picks up a first attempt; `there` (checkpoint a) is idle."""
    for name, loaded in (("here-gpu", "b.safetensors"), ("there-gpu", "a.safetensors")):
        factories.make_worker_node(
            db_session, name=name, status="online", last_heartbeat=utcnow(), last_checkpoint=loaded
        )
    return factories.make_stage_run(db_session)


def test_a_first_attempt_goes_to_the_idle_backend_that_has_its_checkpoint_loaded(db_session):
    run = two_backends(db_session)
    placement = place(db_session, run, Requirements(), "a.safetensors", "here-gpu")
    assert (placement.kind, placement.node) == ("elsewhere", "there-gpu")


def test_routing_blind_to_checkpoints_runs_it_where_it_was_picked_up(db_session):
    run = two_backends(db_session)
    assert place(db_session, run, Requirements(), None, "here-gpu").kind == "here"


def running_on(db_session, backend: str, stages: int) -> None:
    """`stages` stage runs running on `backend` (its load)."""
    for _ in range(stages):
        factories.make_stage_run(db_session, status="running", backend=backend)


def test_an_idle_backend_switches_rather_than_queue_behind_a_full_holder(db_session):
    run = two_backends(db_session)
    running_on(db_session, "there-gpu", 2)
    assert place(db_session, run, Requirements(), "a.safetensors", "here-gpu").kind == "here"


def test_a_busy_backend_sends_it_to_the_holder_however_full(db_session):
    run = two_backends(db_session)
    running_on(db_session, "there-gpu", 2)
    running_on(db_session, "here-gpu", 1)
    placement = place(db_session, run, Requirements(), "a.safetensors", "here-gpu")
    assert (placement.kind, placement.node) == ("elsewhere", "there-gpu")
