"""What renders is what the production says: scene lengths within the farm's limit, sound cues
inside the rendered scene, and render options that agree with the episode, all refused when
the row is written or the job submitted (never in a stage after GPU work)."""

from __future__ import annotations

from shared.models import Job, Scene
from tests import factories


def scenes_url(world) -> str:
    return f"/api/anime/episodes/{world.rows['episode'].id}/scenes"


def test_a_scene_longer_than_the_farm_limit_is_refused_naming_the_limit(as_role, world, app):
    api = as_role("owner")
    limit = 60.0  # the scene_max_s setting's default
    refused = api.post(scenes_url(world), json={"order": 7, "prompt": "rain", "duration_s": 61})
    assert refused.status_code == 422
    body = refused.get_json()
    assert f"limit of {limit:g} s" in body["fields"]["duration_s"]
    created = api.post(scenes_url(world), json={"order": 7, "prompt": "rain", "duration_s": 30})
    assert created.status_code == 201, created.get_json()
    scene_id = created.get_json()["id"]
    patched = api.patch(f"/api/anime/scenes/{scene_id}", json={"duration_s": 90})
    assert patched.status_code == 422 and "duration_s" in patched.get_json()["fields"]


def test_a_cue_past_the_rendered_scene_is_refused_when_the_scene_is_written(
    as_role, world, db_session
):
    # 1.2 s at the episode's 16 fps renders 19 frames: 1.1875 s.
    cue = {"name": "door", "at_s": 1.19}
    response = as_role("owner").post(
        scenes_url(world),
        json={"order": 8, "prompt": "rain", "duration_s": 1.2, "sfx_cues": [cue]},
    )
    assert response.status_code == 422
    assert "1.1875 s" in response.get_json()["fields"]["sfx_cues.0.at_s"]
    assert db_session.query(Scene).filter_by(order=8).count() == 0


def test_a_cue_the_episode_rate_moved_out_is_refused_at_submission(as_role, world, db_session):
    scene = world.rows["scene"]
    scene.duration_s, scene.sfx_cues = 1.2, [{"name": "door", "at_s": 1.19}]
    db_session.flush()
    jobs = db_session.query(Job).count()
    response = as_role("owner").post(
        f"/api/anime/projects/{world.rows['project'].id}/generate",
        json={"kind": "episode", "episode_id": world.rows["episode"].id},
    )
    assert response.status_code == 422
    assert f"scenes.{scene.order}.sfx_cues.0.at_s" in response.get_json()["fields"]
    assert db_session.query(Job).count() == jobs


def test_render_options_against_the_episode_format_are_refused_naming_both(as_role, world):
    response = as_role("owner").post(
        f"/api/anime/projects/{world.rows['project'].id}/generate",
        json={
            "kind": "episode",
            "episode_id": world.rows["episode"].id,
            "options": {"fps": 8, "width": 256, "height": 144, "multiplier": 4},
        },
    )
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert {"options.fps", "episode.fps", "options.width", "episode.width"} <= set(fields)


def test_a_generated_transition_is_a_scene_transition_of_at_least_a_frame(as_role, world):
    api = as_role("owner")
    scene = {"order": 9, "prompt": "rain", "duration_s": 2, "transition": "generated"}
    refused = api.post(scenes_url(world), json={**scene, "transition_s": 0})
    assert refused.status_code == 422 and "transition_s" in refused.get_json()["fields"]
    created = api.post(scenes_url(world), json={**scene, "transition_s": 0.5})
    assert created.status_code == 201 and created.get_json()["transition"] == "generated"


def test_the_status_report_names_segments_and_the_scenes_a_bridge_joins(as_role, world, db_session):
    rows = world.rows
    second = factories.make_scene(db_session, episode_id=rows["episode"].id, order=5)
    job = factories.make_job(
        db_session,
        project_id=rows["project"].id,
        owner_id=world.users["owner"].id,
        episode_id=rows["episode"].id,
    )
    for segment in (0, 1):
        factories.make_stage_run(
            db_session, job_id=job.id, scene_id=second.id, stage="animate", segment=segment
        )
    factories.make_stage_run(
        db_session,
        job_id=job.id,
        scene_id=rows["scene"].id,
        stage="bridge",
        inputs={"next_scene_id": second.id, "frames": 4},
    )
    report = as_role("owner").get(f"/api/anime/generation/{job.id}/status").get_json()
    shown = {(s["stage"], s["segment"], s["next_scene_id"]) for s in report["stages"]}
    assert shown == {("animate", 0, None), ("animate", 1, None), ("bridge", 0, second.id)}
