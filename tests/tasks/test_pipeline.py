"""Whole jobs on a real farm: emulated GPU nodes, real Celery workers, Postgres, Redis, ffmpeg."""

from __future__ import annotations

from collections import Counter

from shared.db import db
from shared.models import Scene, Workflow
from tasks.pipeline.library_store import add_demo_library
from tasks.pipeline.planning import plan_job
from tasks.pipelines import dispatch_job
from tests.support.processes import wait_for
from tests.tasks.conftest import FAST_OPTIONS, job_row
from workers.storage import LocalStore

TERMINAL = {"succeeded", "failed", "cancelled"}


def submit(app, production, kind="episode", options=None, **extra) -> int:
    """Plan, commit, dispatch: what the web service does."""
    if kind == "episode":
        extra["episode_id"] = production.episode_id
    with app.app_context():
        job = plan_job(
            db.session,
            owner_id=production.owner_id,
            project_id=production.project_id,
            kind=kind,
            options=options or FAST_OPTIONS,
            **extra,
        )
        db.session.commit()
        job_id = job.id
        dispatch_job(job_id)
    return job_id


def wait_until_done(app, farm, job_id, timeout=120):
    return wait_for(
        lambda: job_row(app, job_id).status in TERMINAL and job_row(app, job_id),
        timeout,
        what=lambda: f"job {job_id} to end\n{farm.logs()}",
    )


def test_episode_runs_every_stage_and_succeeds(app, farm, production, settings):
    with app.app_context():
        add_demo_library(db.session, LocalStore(settings.artifact_root))
        db.session.commit()
    job_id = submit(app, production)
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    stages = Counter(r.stage for r in job.stage_runs if r.status == "succeeded")
    assert stages == {"keyframe": 3, "animate": 3, "interpolate": 3, "compile": 1, "mix": 1}
    for run in job.stage_runs:
        assert run.assets, f"{run.stage} of scene {run.scene_id} has no output"
    assert job.progress == 1.0
    final = next(r for r in job.stage_runs if r.stage == "mix").assets[0]
    assert final.kind == "episode" and abs(final.meta["integrated_lufs"] + 16) <= 1.0
    clips = [r.assets[0] for r in job.stage_runs if r.stage == "interpolate"]
    # Three 1 s scenes at the episode's 8 fps (8 frames each), one 0.25 s crossfade: 24 - 2.
    assert [c.frames for c in clips] == [8, 8, 8]
    assert final.frames == 22 and final.fps == 8


def test_the_next_stage_on_the_same_checkpoint_is_handed_to_the_same_backend(app, farm, production):
    """Animate takes keyframe's checkpoint: keyframe's backend sends it to its own queue, so no
    other backend picks it up from the shared queue only to re-route it there."""
    job_id = submit(app, production, kind="scene", scene_ids=[production.scene_ids[0]])
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    runs = {r.stage: r for r in job.stage_runs}
    assert runs["animate"].backend == runs["keyframe"].backend
    rerouted = f"re-routing run_id={runs['animate'].id} to"
    assert not any(rerouted in worker.log_text() for worker in farm.gpu_workers.values())


def test_a_first_stage_is_sent_to_an_idle_backend_holding_its_checkpoint(app, farm, production):
    """Once a backend holds the checkpoint, the next job's keyframe goes to its queue at
    dispatch: no backend without it picks it up from the shared queue only to re-route it."""
    scene = [production.scene_ids[0]]
    first = wait_until_done(app, farm, submit(app, production, kind="image", scene_ids=scene))
    holder = first.stage_runs[0].backend
    for _ in range(3):  # on the shared queue, either backend could pick each one up
        job = wait_until_done(app, farm, submit(app, production, kind="image", scene_ids=scene))
        assert job.status == "succeeded", (job.error, farm.logs())
        run = job.stage_runs[0]
        assert run.backend == holder
        rerouted = f"re-routing run_id={run.id} to"
        assert not any(rerouted in worker.log_text() for worker in farm.gpu_workers.values())


def test_dialogue_is_spoken_in_the_mix_and_subtitled(app, farm, production, settings):
    with app.app_context():
        scene = db.session.get(Scene, production.scene_ids[1])
        aki = scene.characters[0]
        scene.dialogue = [{"character_id": aki.id, "text": "Rain again.", "at_s": 0.1}]
        db.session.commit()
    job = wait_until_done(app, farm, submit(app, production))
    assert job.status == "succeeded", (job.error, farm.logs())
    mix = next(r for r in job.stage_runs if r.stage == "mix")
    kinds = sorted((a.kind, a.mime_type) for a in mix.assets)
    assert kinds == [("episode", "video/mp4"), ("subtitles", "application/x-subrip"),
                     ("subtitles", "text/vtt")]  # fmt: skip
    vtt = next(a for a in mix.assets if a.mime_type == "text/vtt")
    assert "<v Aki>Rain again." in LocalStore(settings.artifact_root).path(vtt.uri).read_text()


def test_retrying_one_stage_of_a_finished_job_reuses_everything_else(app, farm, production):
    from shared.models import Job
    from tasks.pipeline.control import prepare_retry

    job = wait_until_done(app, farm, submit(app, production))
    assert job.status == "succeeded"
    animate = next(
        r for r in job.stage_runs if r.stage == "animate" and r.scene_id == production.scene_ids[0]
    )
    with app.app_context():
        prepare_retry(db.session, db.session.get(Job, job.id), stage_id=animate.id)
        db.session.commit()
        dispatch_job(job.id)
    job = wait_until_done(app, farm, job.id)
    assert job.status == "succeeded", (job.error, farm.logs())
    again = {(r.stage, r.scene_id) for r in job.stage_runs if r.attempt == 2}
    first = production.scene_ids[0]
    assert again == {("animate", first), ("interpolate", first), ("compile", None), ("mix", None)}


def test_retake_rerenders_one_scene_and_recompiles(app, farm, production):
    from shared.models import Scene
    from tasks.pipeline.control import prepare_retake

    job = wait_until_done(app, farm, submit(app, production))
    assert job.status == "succeeded"
    second = production.scene_ids[1]
    with app.app_context():
        prepare_retake(db.session, db.session.get(Scene, second), seed=4242)
        db.session.commit()
        dispatch_job(job.id)
    job = wait_until_done(app, farm, job.id)
    assert job.status == "succeeded", (job.error, farm.logs())
    again = {(r.stage, r.scene_id) for r in job.stage_runs if r.attempt == 2}
    assert again == {
        ("keyframe", second),
        ("animate", second),
        ("interpolate", second),
        ("compile", None),
        ("mix", None),
    }
    keyframe = next(
        r
        for r in job.stage_runs
        if r.stage == "keyframe" and r.scene_id == second and r.attempt == 2
    )
    assert keyframe.inputs["params"]["seed"] == 4242
    # The retake's takes replaced the first ones: those are dated for the clean-up, no other.
    replaced = {
        (r.stage, r.scene_id) for r in job.stage_runs if any(a.superseded_at for a in r.assets)
    }
    assert replaced == again
    assert all(r.attempt == 1 for r in job.stage_runs if any(a.superseded_at for a in r.assets))


def test_upscaled_scenes_compile_at_the_episode_size(app, farm, production):
    """The upscale stage (optional, per job): by resampling for one job, by a model for
    another; scenes render smaller and come out at the episode's size (64x64)."""
    for upscale, template in (
        ({"factor": 2}, "upscale"),
        ({"height": 64, "model": "RealESRGAN_x4plus.pth"}, "upscale_model"),
    ):
        job_id = submit(
            app,
            production,
            kind="scene",
            scene_ids=production.scene_ids[:2],
            options={**FAST_OPTIONS, "upscale": upscale},
        )
        job = wait_until_done(app, farm, job_id)
        assert job.status == "succeeded", (job.error, farm.logs())
        order = [
            r.stage
            for r in sorted(job.stage_runs, key=lambda r: r.id)
            if r.scene_id == production.scene_ids[0]
        ]
        assert order == ["keyframe", "animate", "interpolate", "upscale"]
        upscaled = [r for r in job.stage_runs if r.stage == "upscale"]
        interpolated = {r.scene_id: r for r in job.stage_runs if r.stage == "interpolate"}
        for run in upscaled:
            clip = next(a for a in run.assets if a.kind == "video")
            before = next(a for a in interpolated[run.scene_id].assets if a.kind == "video")
            assert (clip.width, clip.height, clip.frames) == (64, 64, before.frames)
            assert (before.width, before.height) == (32, 32)
            with app.app_context():
                workflow = db.session.get(Workflow, run.workflow_id)
            assert workflow.name == template
        episode = next(r for r in job.stage_runs if r.stage == "mix").assets[0]
        assert (episode.width, episode.height) == (64, 64)
