"""Prometheus /metrics: read at scrape time from the rows and the broker; operators only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests import factories


def scrape(api) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    reply = api.get("/metrics")
    assert reply.status_code == 200, reply.data[:500]
    assert reply.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(reply.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delta(before, after, name, **labels) -> float:
    """How much one sample grew between two scrapes."""
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_follow_the_rows(as_role, world, db_session, settings):
    api = as_role("operator")
    before = scrape(api)
    project, scene = world.rows["project"], world.rows["scene"]
    owner = world.users["owner"]
    jobs = [
        factories.make_job(db_session, project_id=project.id, owner_id=owner.id, status=status)
        for status in ("succeeded", "succeeded", "running")
    ]
    runs = [
        ("keyframe", 0.5, "succeeded", None),
        ("keyframe", 7.0, "succeeded", None),
        ("animate", 45.0, "succeeded", None),
        (
            "animate",
            3.0,
            "failed",
            {
                "type": "ComfyExecutionFailed",
                "exception_type": "torch.OutOfMemoryError",
                "node_type": "KSampler",
            },
        ),
        ("interpolate", 2.0, "failed", {"type": "ComfyRejected"}),
    ]
    for n, (stage, seconds, status, detail) in enumerate(runs):
        start = datetime.now(UTC) - timedelta(hours=1)
        factories.make_stage_run(
            db_session,
            job_id=jobs[n % 2].id,
            scene_id=scene.id,
            stage=stage,
            status=status,
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
            error_detail=detail,
        )
    factories.make_worker_node(db_session, name="m-online", status="online")
    factories.make_worker_node(db_session, name="m-drained", status="draining")
    db_session.commit()
    broker = redis.Redis.from_url(settings.broker_url)
    prefix = getattr(settings, "broker_key_prefix", "") or ""
    try:
        broker.rpush(f"{prefix}gpu.m-online:5", b"{}", b"{}")
        after = scrape(api)
    finally:
        broker.delete(f"{prefix}gpu.m-online:5")

    assert delta(before, after, "tower_jobs", status="succeeded") == 2
    assert delta(before, after, "tower_jobs", status="running") == 1
    assert delta(before, after, "tower_jobs", status="cancelled") == 0
    hist = "tower_stage_duration_seconds"
    assert delta(before, after, f"{hist}_count", stage="keyframe", status="succeeded") == 2
    assert (
        delta(before, after, f"{hist}_bucket", stage="keyframe", status="succeeded", le="1.0") == 1
    )
    assert (
        delta(before, after, f"{hist}_bucket", stage="keyframe", status="succeeded", le="10.0") == 2
    )
    assert delta(
        before, after, f"{hist}_sum", stage="keyframe", status="succeeded"
    ) == pytest.approx(7.5)
    assert (
        delta(before, after, f"{hist}_bucket", stage="animate", status="succeeded", le="30.0") == 0
    )
    assert (
        delta(before, after, f"{hist}_bucket", stage="animate", status="succeeded", le="+Inf") == 1
    )
    errors = "tower_comfyui_errors_total"
    assert (
        delta(before, after, errors, **{"class": "torch.OutOfMemoryError", "stage": "animate"}) == 1
    )
    assert delta(before, after, errors, **{"class": "ComfyRejected", "stage": "interpolate"}) == 1
    assert delta(before, after, "tower_nodes_online") == 1
    assert delta(before, after, "tower_nodes", status="draining") == 1
    assert after[("tower_queue_depth", (("queue", "gpu.m-online"),))] == 2
    assert ("tower_queue_depth", (("queue", "gpu"),)) in after


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("owner", 403), ("guest", 403)])
def test_metrics_need_an_operator(as_role, world, role, status):
    assert as_role(role).get("/metrics").status_code == status


def test_admin_may_scrape(as_role, world):
    assert as_role("admin").get("/metrics").status_code == 200
