"""Routing prefers a backend that has the stage's checkpoint loaded, unless told to route blind."""

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
