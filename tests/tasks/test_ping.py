"""A real worker answers through the real broker on each queue."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("queue", ["gpu", "cpu"])
def test_ping_round_trips_through_each_queue(celery_app, celery_worker, queue):
    reply = celery_app.send_task("tower.ping", queue=queue).get(timeout=30)
    assert reply["answer"] == "pong"
    assert reply["queue"] == queue
    assert reply["worker"].startswith("test@")


def test_worker_runs_with_acks_late_and_json_only(celery_app):
    conf = celery_app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
