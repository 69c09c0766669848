"""Limits and defaults that are farm settings apply as soon as they change: render caps (on
every path), the longest scene, render defaults kept on the job, and the upload allowlist."""

from __future__ import annotations

from shared.models import Job
from shared.settings_catalog import shipped_allowlist
from tests.support.settings import farm_setting
from tests.web.test_render_limits import generate, job_count, refusal
from tests.web.test_roles import upload_body


def test_lowered_render_caps_hold_at_the_top_level_and_per_stage(app, as_role, world, db_session):
    before = job_count(db_session)
    with farm_setting(app, "render_max_size", 512), farm_setting(app, "render_max_frames", 16):
        top = refusal(generate(as_role, world, "owner", {"width": 1024, "frames": 32}))
        staged = refusal(
            generate(as_role, world, "owner", {"stages": {"keyframe": {"height": 640}}})
        )
        # Sizes follow the episode; the window length may reach the cap.
        fits = generate(as_role, world, "owner", {"frames": 16})
    assert top == {
        "options.width": "must be at most 512 on this farm",
        "options.frames": "must be at most 16 on this farm",
    }
    assert staged == {"options.stages.keyframe.height": "must be at most 512 on this farm"}
    assert fits.status_code == 202 and job_count(db_session) == before + 1


def test_the_longest_scene_is_a_setting(app, as_role, world):
    path = f"/api/anime/episodes/{world.rows['episode'].id}/scenes"
    body = {"order": 7, "prompt": "a long pan over the bay", "duration_s": 12}
    with farm_setting(app, "scene_max_s", 10):
        refused = as_role("owner").post(path, json=body)
        shorter = as_role("owner").post(path, json={**body, "order": 8, "duration_s": 10})
    assert refusal(refused) == {"duration_s": "12 s is longer than this farm's limit of 10 s"}
    assert shorter.status_code == 201


def test_render_defaults_fill_what_a_job_leaves_out_and_stay_on_it(app, as_role, world, db_session):
    with (
        farm_setting(app, "render_default_steps", 7),
        farm_setting(app, "render_default_multiplier", 4),
    ):
        response = generate(as_role, world, "owner", {"steps": 30})
    assert response.status_code == 202, response.get_json()
    options = db_session.get(Job, response.get_json()["request_id"]).params["options"]
    assert (options["steps"], options["multiplier"]) == (30, 4)
    assert "fps" not in options  # the episode's rate is the job's


def test_the_upload_allowlist_is_a_setting(app, as_role, world):
    narrowed = [name for name in shipped_allowlist() if name != "KSampler"]
    with farm_setting(app, "workflow_node_allowlist", narrowed):
        refused = as_role("owner").post("/api/anime/workflows", json=upload_body("no-sampler"))
    assert refused.status_code == 422 and "KSampler" in refused.get_data(as_text=True)
    allowed = as_role("owner").post("/api/anime/workflows", json=upload_body("with-sampler"))
    assert allowed.status_code == 201, allowed.get_json()
