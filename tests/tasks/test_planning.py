"""Planning from the stage registry: which rows a job gets and what each asks of its workflow."""

from __future__ import annotations

import pytest

from shared.errors import ValidationError
from tasks.pipeline.planning import plan_job
from tasks.pipeline.workflow_store import seed_default_workflows
from tests import factories
from tests.support.statements import statements_run


@pytest.fixture
def scene(db_session):
    seed_default_workflows(db_session)
    episode = factories.make_episode(db_session, width=256, height=144, fps=16)
    return factories.make_scene(db_session, episode_id=episode.id, duration_s=1.0)


def plan(db_session, scene, kind="scene", **options):
    return plan_job(
        db_session,
        owner_id=scene.episode.project.owner_id,
        project_id=scene.episode.project_id,
        kind=kind,
        scene_ids=[scene.id],
        options={"steps": 2, **options},
        max_scene_s=60.0,
    )


def stages(job) -> list[str]:
    return [r.stage for r in job.stage_runs]


def params_of(job) -> dict[str, dict]:
    return {r.stage: r.inputs["params"] for r in job.stage_runs}


def test_a_job_without_upscale_has_no_upscale_stage(db_session, scene):
    job = plan(db_session, scene)
    assert stages(job) == ["keyframe", "animate", "interpolate", "compile", "mix"]
    assert job.stage_runs[-2].inputs["params"] == {"fps": 16, "width": 256, "height": 144}


def test_the_episode_rate_and_the_scene_duration_set_the_frames(db_session, scene):
    job = plan(db_session, scene)
    params = params_of(job)
    # 1 s at the episode's 16 fps is 16 frames: 9 animated at 8 fps, x2 by RIFE (17), cut to 16.
    assert (params["animate"]["frames"], params["animate"]["fps"]) == (9, 8)
    assert params["interpolate"] == {"multiplier": 2, "fps": 8, "frames": 16}


def test_options_frames_is_the_context_window_and_never_shortens_a_scene(db_session, scene):
    scene.duration_s = 30.0
    job = plan(db_session, scene, frames=16)
    params = params_of(job)
    assert params["animate"]["frames"] == 241  # 30 s at 16 fps: 480 frames after RIFE x2
    assert (params["animate"]["context_length"], params["animate"]["context_overlap"]) == (16, 4)
    assert params["interpolate"]["frames"] == 480


def test_a_long_scene_gets_longer_time_limits(db_session, scene):
    from shared.stages import stage_kind, time_limits

    scene.duration_s = 30.0
    animate = next(r for r in plan(db_session, scene).stage_runs if r.stage == "animate")
    soft, hard = time_limits(stage_kind("animate"), animate.inputs["frames"])
    assert soft > stage_kind("animate").soft_limit_s and hard > soft
    assert time_limits(stage_kind("animate"), 16) == (1800, 1900)


@pytest.mark.parametrize(
    "options, fields",
    [
        ({"fps": 12}, {"options.fps", "episode.fps"}),
        ({"width": 320}, {"options.width", "episode.width"}),
        ({"height": 176}, {"options.height", "episode.height"}),
        ({"multiplier": 4, "fps": 8}, {"options.fps", "episode.fps"}),
        ({"upscale": {"height": 720}}, {"options.upscale.height", "episode.height"}),
    ],
)
def test_options_that_contradict_the_episode_are_refused_naming_both(
    db_session, scene, options, fields
):
    with pytest.raises(ValidationError) as caught:
        plan(db_session, scene, **options)
    assert fields <= set(caught.value.fields), caught.value.fields


def test_an_episode_rate_the_multiplier_cannot_make_is_refused(db_session, scene):
    scene.episode.fps = 25
    with pytest.raises(ValidationError) as caught:
        plan(db_session, scene)
    assert {"episode.fps", "options.multiplier"} <= set(caught.value.fields)


def test_options_repeating_the_episode_are_accepted(db_session, scene):
    job = plan(db_session, scene, fps=8, width=256, height=144)
    assert params_of(job)["compile"] == {"fps": 16, "width": 256, "height": 144}


def test_a_scene_longer_than_the_farm_limit_is_refused_at_submission(db_session, scene):
    scene.duration_s = 61.0
    with pytest.raises(ValidationError) as caught:
        plan(db_session, scene)
    assert "60 s" in caught.value.fields[f"scenes.{scene.order}.duration_s"]


def test_a_cue_past_the_rendered_scene_is_refused_before_any_gpu_work(db_session, scene):
    scene.duration_s = 1.2  # 19 frames at 16 fps: 1.1875 s
    scene.sfx_cues = [{"name": "door", "at_s": 0.5}, {"name": "bell", "at_s": 1.19}]
    with pytest.raises(ValidationError) as caught:
        plan(db_session, scene)
    assert list(caught.value.fields) == [f"scenes.{scene.order}.sfx_cues.1.at_s"]
    assert "1.1875 s" in caught.value.fields[f"scenes.{scene.order}.sfx_cues.1.at_s"]


def test_upscale_by_factor_renders_smaller_and_compiles_at_the_episode_size(db_session, scene):
    job = plan(db_session, scene, upscale={"factor": 2})
    assert stages(job) == ["keyframe", "animate", "interpolate", "upscale", "compile", "mix"]
    params = params_of(job)
    assert (params["keyframe"]["width"], params["keyframe"]["height"]) == (128, 72)
    assert params["upscale"] == {"width": 256, "height": 144, "fps": 16}
    assert params["compile"] == {"fps": 16, "width": 256, "height": 144}


def test_upscale_to_a_height_with_a_model_binds_the_model_template(db_session, scene):
    job = plan(db_session, scene, upscale={"height": 144, "model": "RealESRGAN_x4plus.pth"})
    upscale = job.stage_runs[3]
    assert upscale.inputs["params"] == {
        "width": 256,
        "height": 144,
        "fps": 16,
        "model": "RealESRGAN_x4plus.pth",
    }
    assert upscale.inputs["frames"] == 16  # 1 s at 16 fps


@pytest.mark.parametrize(
    "upscale, field",
    [
        ({"factor": 9}, "options.upscale.factor"),
        ({"factor": 2, "height": 720}, "options.upscale"),
        ({"height": 721}, "options.upscale.height"),
        ({"factor": 2, "model": "../../etc/passwd"}, "options.upscale.model"),
        ({"factor": 2, "method": "magic"}, "options.upscale.method"),
        ({"factor": 2, "tiles": 4}, "options.upscale.tiles"),
        ("2x", "options.upscale"),
    ],
)
def test_a_bad_upscale_option_is_refused_by_field(db_session, scene, upscale, field):
    with pytest.raises(ValidationError) as caught:
        plan(db_session, scene, upscale=upscale)
    assert field in caught.value.fields


def test_the_checkpoint_option_is_the_image_model_and_svd_keeps_its_own(db_session, scene):
    job = plan(db_session, scene, engine="svd", checkpoint="v1-5-pruned-emaonly.safetensors")
    params = {r.stage: r.inputs["params"] for r in job.stage_runs}
    assert params["keyframe"]["checkpoint"] == "v1-5-pruned-emaonly.safetensors"
    assert params["animate"]["checkpoint"] == "svd_xt.safetensors"


def test_a_generated_transition_plans_a_bridge_per_pair_of_scenes(db_session, scene):
    scene.transition, scene.transition_s = "generated", 0.5
    second = factories.make_scene(db_session, episode_id=scene.episode_id, duration_s=1.0)
    job = plan_job(
        db_session,
        owner_id=scene.episode.project.owner_id,
        project_id=scene.episode.project_id,
        kind="episode",
        episode_id=scene.episode_id,
        options={"steps": 2},
    )
    bridges = [r for r in job.stage_runs if r.stage == "bridge"]
    assert [(r.scene_id, r.inputs["next_scene_id"]) for r in bridges] == [(scene.id, second.id)]
    assert bridges[0].inputs["params"] == {"frames": 8, "multiplier": 9, "fps": 16}
    assert stages(job)[-3:] == ["bridge", "compile", "mix"]


def test_a_generated_transition_shorter_than_a_frame_is_refused(db_session, scene):
    scene.transition, scene.transition_s = "generated", 0.01
    with pytest.raises(ValidationError) as caught:
        plan(db_session, scene)
    assert f"scenes.{scene.order}.transition_s" in caught.value.fields


def test_an_svd_scene_longer_than_a_segment_renders_as_consecutive_segments(db_session, scene):
    scene.duration_s = 20.0  # 320 frames at 16 fps: 161 animated at 8 fps
    job = plan(db_session, scene, engine="svd", frames=25)
    animate = [r for r in job.stage_runs if r.stage == "animate"]
    assert [r.segment for r in animate] == list(range(7))
    pieces = [r.inputs["params"]["frames"] for r in animate]
    assert pieces == [25, 25, 25, 25, 25, 25, 17]
    assert pieces[0] + sum(p - 1 for p in pieces[1:]) == 161  # each next repeats one frame
    assert all(r.inputs["frames"] == r.inputs["params"]["frames"] for r in animate)
    interpolate = next(r for r in job.stage_runs if r.stage == "interpolate")
    assert interpolate.inputs["params"]["frames"] == 320


def test_a_short_svd_scene_is_one_row(db_session, scene):
    job = plan(db_session, scene, engine="svd")
    assert [r.segment for r in job.stage_runs if r.stage == "animate"] == [0]


def test_an_episode_reads_each_workflow_once_whatever_its_scenes(db_session, scene):

    def workflow_reads(scenes: int) -> int:
        episode = factories.make_episode(db_session, width=256, height=144, fps=16)
        for order in range(scenes):
            factories.make_scene(db_session, episode_id=episode.id, order=order, duration_s=1.0)
        with statements_run(db_session.get_bind()) as statements:
            job = plan_job(db_session, owner_id=episode.project.owner_id,
                           project_id=episode.project_id, kind="episode",
                           episode_id=episode.id, options={"steps": 2})  # fmt: skip
        assert len(job.stage_runs) == 3 * scenes + 2
        return sum("FROM workflows" in statement for statement in statements)

    assert workflow_reads(8) == workflow_reads(2) == 3  # keyframe, animate, interpolate
