"""Planning from the stage registry: which rows a job gets and what each asks of its workflow."""

from __future__ import annotations

import pytest

from shared.errors import ValidationError
from tasks.pipeline.planning import plan_job
from tasks.pipeline.workflow_store import seed_default_workflows
from tests import factories


@pytest.fixture
def scene(db_session):
    seed_default_workflows(db_session)
    episode = factories.make_episode(db_session, width=256, height=144)
    return factories.make_scene(db_session, episode_id=episode.id, duration_s=1.0)


def plan(db_session, scene, **options):
    return plan_job(
        db_session,
        owner_id=scene.episode.project.owner_id,
        project_id=scene.episode.project_id,
        kind="scene",
        scene_ids=[scene.id],
        options={"steps": 2, "fps": 8, **options},
    )


def stages(job) -> list[str]:
    return [r.stage for r in job.stage_runs]


def test_a_job_without_upscale_has_no_upscale_stage(db_session, scene):
    job = plan(db_session, scene)
    assert stages(job) == ["keyframe", "animate", "interpolate", "compile", "mix"]
    assert job.stage_runs[-2].inputs["params"] == {"fps": 16, "width": 256, "height": 144}


def test_upscale_by_factor_resamples_and_compiles_at_the_new_size(db_session, scene):
    job = plan(db_session, scene, upscale={"factor": 2})
    assert stages(job) == ["keyframe", "animate", "interpolate", "upscale", "compile", "mix"]
    upscale = job.stage_runs[3]
    assert upscale.inputs["params"] == {"width": 512, "height": 288, "fps": 16}
    assert job.stage_runs[4].inputs["params"] == {"fps": 16, "width": 512, "height": 288}


def test_upscale_to_a_height_with_a_model_binds_the_model_template(db_session, scene):
    job = plan(db_session, scene, upscale={"height": 720, "model": "RealESRGAN_x4plus.pth"})
    upscale = job.stage_runs[3]
    assert upscale.inputs["params"] == {
        "width": 1280,
        "height": 720,
        "fps": 16,
        "model": "RealESRGAN_x4plus.pth",
    }
    assert upscale.inputs["frames"] == 16  # 8 frames of animation, x2


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
