"""The status report tells an integrator where a job belongs and when each stage ran; the
ComfyUI graph node and the GPU node are two named fields; the OpenAPI document says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.progress import STAGE_FIELDS, ProgressBus, build_stage_payload
from tests import factories


def test_the_report_names_project_episode_priority_and_each_stages_scene_and_times(
    as_role, world, db_session
):
    rows = world.rows
    later = factories.make_scene(db_session, episode_id=rows["episode"].id, order=3)
    job = factories.make_job(
        db_session,
        project_id=rows["project"].id,
        owner_id=world.users["owner"].id,
        episode_id=rows["episode"].id,
        priority=2,
        status="running",
    )
    started = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    factories.make_stage_run(
        db_session,
        job_id=job.id,
        scene_id=later.id,
        status="succeeded",
        backend="gpu-a",
        node="31",
        started_at=started,
        finished_at=started + timedelta(seconds=42),
    )
    factories.make_stage_run(db_session, job_id=job.id, scene_id=None, stage="compile")
    db_session.commit()

    report = as_role("owner").get(f"/api/anime/generation/{job.id}/status").json
    assert (report["project_id"], report["episode_id"], report["priority"]) == (
        rows["project"].id,
        rows["episode"].id,
        2,
    )
    keyframe, compile_ = report["stages"]
    assert keyframe["scene_order"] == 3 and compile_["scene_order"] is None
    assert keyframe["started_at"] == "2026-12-06T09:00:00+00:00"
    assert keyframe["finished_at"] == "2026-12-06T09:00:42+00:00"
    assert keyframe["queued_at"] and compile_["started_at"] is None
    assert (keyframe["backend"], keyframe["comfy_node"]) == ("gpu-a", "31")


def test_live_state_names_the_comfy_node_beside_the_gpu_node(app, as_role, world, db_session):
    job = factories.make_job(
        db_session, project_id=world.rows["project"].id, owner_id=world.users["owner"].id
    )
    run = factories.make_stage_run(db_session, job_id=job.id, scene_id=world.rows["scene"].id)
    db_session.commit()
    bus = ProgressBus.from_url(app.config["SETTINGS"].redis_url)
    bus.stage_event(
        job.id, stage_id=run.id, stage="keyframe", status="running", node="3", backend="gpu-b"
    )
    stage = as_role("owner").get(f"/api/anime/generation/{job.id}/status").json["stages"][0]
    # `node` stays for the clients that read it; `comfy_node` is its unambiguous name.
    assert (stage["comfy_node"], stage["node"], stage["backend"]) == ("3", "3", "gpu-b")


def test_stage_events_carry_comfy_node_and_backend():
    payload = build_stage_payload(
        stage_id=1, scene_id=2, stage="animate", status="running", node="12", backend="gpu-a"
    )
    assert set(payload) == set(STAGE_FIELDS)
    assert (payload["comfy_node"], payload["node"], payload["backend"]) == ("12", "12", "gpu-a")


def test_the_openapi_document_describes_the_new_fields(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    job = schemas["JobStatus"]["properties"]
    assert {"project_id", "episode_id", "priority"} <= set(job)
    stage = schemas["StageStatus"]["properties"]
    assert {"scene_order", "queued_at", "started_at", "finished_at", "comfy_node"} <= set(stage)
    assert "ComfyUI" in stage["comfy_node"]["description"]
    assert "GPU node" in stage["backend"]["description"]
    assert "deprecated" in stage["node"]["description"].lower()
    token = schemas["StreamToken"]["properties"]
    assert {"token", "expires_in", "events_url"} <= set(token)
