"""Generation through the HTTP contract: the rows a submit writes, status, cancel, retry, presets
and guest quotas. (Running the canvas on real workers is the pipeline's own test suite.)"""

from __future__ import annotations

import redis

from shared.models import Job, Project, Scene, StageRun
from tasks.broker_scan import task_queues_in_broker
from tests.support.settings import farm_setting


def stages_of(db_session, job_id: int) -> list[tuple[str, int | None]]:
    runs = db_session.query(StageRun).filter_by(job_id=job_id).order_by(StageRun.id)
    return [(r.stage, r.scene_id) for r in runs]


def test_episode_submit_writes_a_queued_job_and_answers_202(as_role, world, db_session, settings):
    response = as_role("owner").post(
        f"/api/anime/projects/{world.rows['project'].id}/generate",
        json={
            "kind": "episode",
            "episode_id": world.rows["episode"].id,
            "options": {"frames": 8, "width": 512, "height": 288, "seed": 7},
            "priority": 4,
        },
    )
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "queued"
    assert body["status_url"] == f"/api/anime/generation/{body['request_id']}/status"
    job = db_session.get(Job, body["request_id"])
    assert (job.kind, job.priority, job.owner_id) == ("episode", 4, world.users["owner"].id)
    scene = world.rows["scene"].id
    assert stages_of(db_session, job.id) == [
        ("keyframe", scene),
        ("animate", scene),
        ("interpolate", scene),
        ("compile", None),
        ("mix", None),
    ]
    report = as_role("owner").get(body["status_url"]).get_json()
    assert report["status"] == "queued" and len(report["stages"]) == 5
    # Dispatched: the first stage's message waits in this session's own broker.
    db_session.refresh(job)
    assert job.canvas_generation == 1 and job.celery_root_id
    keyframe = next(r for r in job.stage_runs if r.stage == "keyframe")
    broker = redis.Redis.from_url(settings.broker_url)
    assert (
        task_queues_in_broker(broker, settings.broker_key_prefix)[keyframe.celery_task_id] == "gpu"
    )


def test_image_and_character_jobs_are_keyframe_only(as_role, world, db_session):
    api = as_role("owner")
    image = api.post(
        f"/api/anime/scenes/{world.rows['scene'].id}/generate", json={"kind": "image"}
    ).get_json()
    sheet = api.post(
        f"/api/anime/characters/{world.rows['character'].id}/generate", json={}
    ).get_json()
    assert [s for s, _ in stages_of(db_session, image["request_id"])] == ["keyframe"]
    assert [s for s, _ in stages_of(db_session, sheet["request_id"])] == ["keyframe"]
    assert db_session.get(Job, sheet["request_id"]).kind == "character"


def test_professional_passes_stage_parameters_and_versions(as_role, world, db_session):
    response = as_role("owner").post(
        "/generate/professional",
        json={
            "project_id": world.rows["project"].id,
            "kind": "scene",
            "scene_ids": [world.rows["scene"].id],
            "workflows": {"keyframe": 1},
            "stages": {"keyframe": {"cfg": 5.5}},
            "options": {"steps": 12},
        },
    )
    assert response.status_code == 202, response.get_json()
    options = db_session.get(Job, response.get_json()["request_id"]).params["options"]
    assert options["workflows"] == {"keyframe": 1}
    assert options["stages"] == {"keyframe": {"cfg": 5.5}} and options["steps"] == 12


def test_integrated_builds_the_production_from_a_brief(as_role, db_session):
    response = as_role("other").post(
        "/generate/integrated",
        json={
            "brief": "A girl waits at a rural station. The train arrives in the rain.",
            "scenes": 2,
            "duration_s": 1.5,
            "options": {"frames": 8},
        },
    )
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    scenes = [db_session.get(Scene, i) for i in body["scene_ids"]]
    assert [s.prompt for s in scenes] == [
        "A girl waits at a rural station.",
        "The train arrives in the rain.",
    ]
    job = db_session.get(Job, body["request_id"])
    assert job.kind == "episode" and job.episode_id == body["episode_id"]


def test_integrated_title_longer_than_a_project_name_is_refused_naming_it(
    as_role, world, db_session
):
    # Without a project_id the title names the new project (200 characters at most) but was
    # taken up to 300: Postgres refused the row and the 422 named no field.
    api = as_role("owner")
    before = db_session.query(Project).count()
    brief = {"brief": "A girl waits at a rural station.", "title": "t" * 250}
    refused = api.post("/generate/integrated", json=brief)
    assert refused.status_code == 422, refused.get_json()
    assert "title" in refused.get_json()["fields"]
    assert db_session.query(Project).count() == before
    # In a given project it titles only the episode, whose titles run to 300.
    kept = api.post("/generate/integrated", json={**brief, "project_id": world.rows["project"].id})
    assert kept.status_code == 202, kept.get_json()


def test_cancel_then_retry(as_role, world, db_session):
    api = as_role("owner")
    submitted = api.post(
        f"/api/anime/scenes/{world.rows['scene'].id}/generate", json={"kind": "image"}
    ).get_json()
    job_id = submitted["request_id"]
    cancelled = api.post(f"/api/anime/generation/{job_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.get_json()["status"] == "cancelled"
    again = api.post(f"/api/anime/generation/{job_id}/cancel")
    assert again.status_code == 409
    assert again.get_json()["fields"] == {"status": "cancelled"}
    assert again.get_json()["message"] == f"job {job_id} already cancelled"
    retried = as_role("operator").post(f"/api/anime/generation/{job_id}/retry", json={})
    assert retried.status_code == 202 and retried.get_json()["status"] == "queued"
    attempts = db_session.query(StageRun.attempt).filter_by(job_id=job_id).all()
    assert sorted(a for (a,) in attempts) == [1, 2]


def test_retry_of_a_named_stage_must_be_the_jobs(as_role, world):
    response = as_role("owner").post(
        f"/api/anime/generation/{world.rows['job'].id}/retry", json={"stage_id": 999999999}
    )
    assert response.status_code == 404


def test_guest_quota_and_kinds(app, as_role, world):
    guest = as_role("guest")
    path = f"/api/anime/projects/{world.rows['public'].id}/generate"
    body = {"kind": "image", "scene_ids": [world.rows["public_scene"].id]}
    with farm_setting(app, "guest_jobs_per_hour", 2):
        codes = [guest.post(path, json=body).status_code for _ in range(3)]
        left = guest.get("/api/anime/guest-status").get_json()["jobs_left"]
    assert codes == [202, 202, 429] and left == 0
    assert guest.post(path, json={**body, "kind": "scene"}).status_code == 403
