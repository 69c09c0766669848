"""Render caps hold on every path: per-stage overrides take only listed parameters within the
top-level bounds, guests get neither stages nor extra_data, urgent priorities are for staff and
an account has a bounded number of active jobs. A refusal writes nothing."""

from __future__ import annotations

import pytest

from shared.models import Job
from tests.support.settings import farm_setting


def generate(as_role, world, role: str, options: dict, *, kind: str = "scene", priority: int = 5):
    """POST a render of the owner's scene as `role` (a guest: of the public demo scene)."""
    public = role == "guest"
    project = world.rows["public" if public else "project"].id
    scene = world.rows["public_scene" if public else "scene"].id
    return as_role(role).post(
        f"/api/anime/projects/{project}/generate",
        json={"kind": kind, "scene_ids": [scene], "options": options, "priority": priority},
    )


def refusal(response, status: int = 422) -> dict[str, str]:
    """The fields of an error answer with this status."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "message", "fields"}
    return body["fields"]


def job_count(db_session) -> int:
    return db_session.query(Job).count()


def test_per_stage_overrides_cannot_exceed_the_top_level_caps(as_role, world, db_session):
    before = job_count(db_session)
    fields = refusal(
        generate(as_role, world, "owner", {"stages": {"keyframe": {"steps": 300, "width": 4096}}})
    )
    assert set(fields) == {"options.stages.keyframe.steps", "options.stages.keyframe.width"}
    assert "150" in fields["options.stages.keyframe.steps"]
    assert "2048" in fields["options.stages.keyframe.width"]
    assert job_count(db_session) == before


@pytest.mark.parametrize(
    ("stages", "field"),
    [
        ({"animate": {"frames": 10_000}}, "options.stages.animate.frames"),
        ({"animate": {"height": 1001}}, "options.stages.animate.height"),
        ({"interpolate": {"multiplier": 16}}, "options.stages.interpolate.multiplier"),
        ({"animate": {"image": "/etc/hostname"}}, "options.stages.animate.image"),
        ({"interpolate": {"frames_dir": "../../outputs"}}, "options.stages.interpolate.frames_dir"),
        ({"keyframe": {"prompt": "replaced"}}, "options.stages.keyframe.prompt"),
        ({"keyframe": {"cfg": "high"}}, "options.stages.keyframe.cfg"),
    ],
)
def test_unlisted_or_out_of_range_stage_parameters_are_refused(as_role, world, stages, field):
    fields = refusal(generate(as_role, world, "owner", {"stages": stages}))
    assert list(fields) == [field]


def test_professional_stages_are_checked_like_options_stages(as_role, world, db_session):
    before = job_count(db_session)
    response = as_role("owner").post(
        "/generate/professional",
        json={
            "project_id": world.rows["project"].id,
            "kind": "image",
            "scene_ids": [world.rows["scene"].id],
            "stages": {"keyframe": {"steps": 10_000, "height": 16384}},
        },
    )
    assert set(refusal(response)) == {"stages.keyframe.steps", "stages.keyframe.height"}
    assert job_count(db_session) == before


def test_listed_stage_parameters_within_bounds_are_stored(as_role, world, db_session):
    stages = {"keyframe": {"steps": 150, "width": 2048, "cfg": 6.5}, "animate": {"denoise": 0.5}}
    response = generate(as_role, world, "owner", {"stages": stages})
    assert response.status_code == 202, response.get_json()
    job = db_session.get(Job, response.get_json()["request_id"])
    keyframe = next(r for r in job.stage_runs if r.stage == "keyframe")
    assert keyframe.inputs["params"]["steps"] == 150 and keyframe.inputs["params"]["cfg"] == 6.5


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"stages": {"keyframe": {"steps": 10_000, "width": 16384}}}, "options.stages"),
        ({"stages": {"keyframe": {"steps": 4}}}, "options.stages"),
        ({"extra_data": {"keyframe": {"emulator_fault": "slow:60"}}}, "options.extra_data"),
    ],
)
def test_guests_get_neither_stages_nor_extra_data(as_role, world, db_session, options, field):
    before = job_count(db_session)
    fields = refusal(generate(as_role, world, "guest", options, kind="image"))
    assert field in fields or any(k.startswith(f"{field}.") for k in fields)
    assert job_count(db_session) == before


def test_a_guest_image_with_top_level_options_is_still_accepted(as_role, world):
    response = generate(as_role, world, "guest", {"steps": 8}, kind="image")
    assert response.status_code == 202, response.get_json()


def test_the_planner_refuses_out_of_range_overrides_itself(app):
    from shared.errors import ValidationError
    from tasks.pipeline.render_options import parse_options

    with app.app_context(), pytest.raises(ValidationError) as caught:
        parse_options({"stages": {"keyframe": {"steps": 300}, "animate": {"image": "/x"}}})
    assert set(caught.value.fields) == {
        "options.stages.keyframe.steps",
        "options.stages.animate.image",
    }
    with app.app_context(), pytest.raises(ValidationError) as caught:
        parse_options({"engine": "svd", "stages": {"animate": {"denoise": 0.5}}})
    assert list(caught.value.fields) == ["options.stages.animate.denoise"]


def test_priorities_above_five_are_for_staff(as_role, world, db_session):
    before = job_count(db_session)
    fields = refusal(generate(as_role, world, "owner", {}, priority=9), 403)
    assert list(fields) == ["priority"]
    assert job_count(db_session) == before
    assert generate(as_role, world, "owner", {}, priority=5).status_code == 202
    admin = generate(as_role, world, "admin", {}, priority=9)
    assert admin.status_code == 202, admin.get_json()
    assert db_session.get(Job, admin.get_json()["request_id"]).priority == 9


def test_active_jobs_per_user_are_capped(app, as_role, world, db_session):
    with farm_setting(app, "active_jobs_per_user", 2):
        check_active_jobs_cap(as_role, world, db_session)


def check_active_jobs_cap(as_role, world, db_session):
    codes = [generate(as_role, world, "owner", {}).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    body = generate(as_role, world, "owner", {}).get_json()
    assert body["error"] == "rate_limited" and "at most 2" in body["message"]
    owner_id = world.users["owner"].id
    first = (
        db_session.query(Job).filter_by(status="queued", owner_id=owner_id).order_by(Job.id).first()
    )
    assert as_role("owner").post(f"/api/anime/generation/{first.id}/cancel").status_code == 202
    assert generate(as_role, world, "owner", {}).status_code == 202
    # Staff are not capped.
    assert all(generate(as_role, world, "admin", {}).status_code == 202 for _ in range(3))
