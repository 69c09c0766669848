"""Long scenes and generated transitions on a real farm: a scene comes out its whole length with
every frame rendered, and a generated bridge joins two scenes from one's last frame to the next
one's first. Tiny frames (64x64) keep the emulator and ffmpeg quick."""

from __future__ import annotations

import subprocess

import numpy as np
from flask import Flask

from shared.db import db
from shared.models import Episode, Project, Scene, User
from tasks.pipeline.library_store import add_demo_library
from tasks.pipeline.planning import plan_job
from tasks.pipelines import dispatch_job
from tests.support.processes import wait_for
from tests.tasks.conftest import job_row
from workers.media.tool import find_ffmpeg
from workers.storage import LocalStore

SIZE = 64
TERMINAL = {"succeeded", "failed", "cancelled"}


def episode_of(app: Flask, settings, scenes: list[dict], fps: int) -> tuple[int, int, list[int]]:
    """Committed owner, project, episode (64x64 at `fps`) and scenes; (owner, project, ids)."""
    with app.app_context():
        session = db.session
        add_demo_library(session, LocalStore(settings.artifact_root))
        owner = User(email=f"long{id(scenes)}@example.com", password_hash="x")
        session.add(owner)
        session.flush()
        project = Project(owner_id=owner.id, name="Long", style="anime")
        session.add(project)
        session.flush()
        episode = Episode(
            project_id=project.id, number=1, title="Long", width=SIZE, height=SIZE, fps=fps
        )
        session.add(episode)
        session.flush()
        rows = [Scene(episode_id=episode.id, order=i, **s) for i, s in enumerate(scenes)]
        session.add_all(rows)
        session.commit()
        return owner.id, project.id, [r.id for r in rows]


def render(app, farm, owner_id, project_id, scene_ids, options, timeout=240):
    """Plan, dispatch and wait for a scene job to end."""
    with app.app_context():
        job = plan_job(
            db.session,
            owner_id=owner_id,
            project_id=project_id,
            kind="scene",
            scene_ids=scene_ids,
            options=options,
            max_scene_s=60.0,
        )
        db.session.commit()
        job_id = job.id
        dispatch_job(job_id)
    return wait_for(
        lambda: job_row(app, job_id).status in TERMINAL and job_row(app, job_id),
        timeout,
        what=lambda: f"job {job_id} to end\n{farm.logs()}",
    )


def decoded(path) -> np.ndarray:
    """Every frame of a video as 64x64 RGB."""
    raw = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIZE, SIZE, 3)


def asset_of(job, stage: str, kind: str, scene_id: int | None = None):
    run = next(
        r
        for r in job.stage_runs
        if r.stage == stage and r.status == "succeeded" and (scene_id in (None, r.scene_id))
    )
    return next(a for a in run.assets if a.kind == kind)


def test_a_30_s_scene_comes_out_30_s_long_with_every_frame_rendered(app, farm, settings):
    owner, project, scenes = episode_of(
        app, settings, [{"prompt": "a long walk in the rain", "duration_s": 30.0}], fps=16
    )
    job = render(app, farm, owner, project, scenes, {"steps": 1, "frames": 16})
    assert job.status == "succeeded", (job.error, farm.logs())
    animate = next(r for r in job.stage_runs if r.stage == "animate")
    assert animate.inputs["params"]["frames"] == 241  # one prompt, context windows of 16
    assert animate.inputs["params"]["context_length"] == 16
    final = asset_of(job, "mix", "episode")
    assert final.frames == 480 and abs(final.duration_s - 30.0) < 0.05
    frames = decoded(settings.artifact_root / final.uri).astype(np.int16)
    assert len(frames) == 480
    # No freeze and no loop: each frame differs from the one before and from the first.
    steps = np.abs(np.diff(frames, axis=0)).reshape(479, -1).max(axis=1)
    assert (steps > 8).all(), np.flatnonzero(steps <= 8)
    assert (np.abs(frames[1:] - frames[0]).reshape(479, -1).max(axis=1) > 8).all()


def test_a_generated_bridge_goes_from_one_scene_to_the_next_and_lengthens_the_episode(
    app, farm, settings
):
    owner, project, scenes = episode_of(
        app,
        settings,
        [
            {
                "prompt": "a red morning",
                "duration_s": 1.0,
                "transition": "generated",
                "transition_s": 0.5,
                "seed": 1,
            },
            {"prompt": "a blue night", "duration_s": 1.0, "seed": 99},
        ],
        fps=8,
    )
    job = render(app, farm, owner, project, scenes, {"steps": 1})
    assert job.status == "succeeded", (job.error, farm.logs())
    bridge = next(r for r in job.stage_runs if r.stage == "bridge")
    assert (bridge.scene_id, bridge.inputs["next_scene_id"]) == (scenes[0], scenes[1])
    assert bridge.inputs["params"] == {"frames": 4, "multiplier": 5, "fps": 8}
    assert bridge.backend and bridge.progress == 1.0  # a GPU stage like any other
    final = asset_of(job, "mix", "episode")
    assert final.frames == 8 + 4 + 8  # the episode grows by the transition's length
    compiled = asset_of(job, "compile", "video")
    placed = [(p["kind"], p["start_s"]) for p in compiled.meta["compile"]["placements"]]
    assert placed == [("scene", 0.0), ("bridge", 1.0), ("scene", 1.5)]
    frames = decoded(settings.artifact_root / final.uri).astype(np.float32)
    last_a, first_b, morph = frames[7], frames[12], frames[8:12]
    to_a = [np.abs(f - last_a).mean() for f in morph]
    to_b = [np.abs(f - first_b).mean() for f in morph]
    assert to_a == sorted(to_a) and to_b == sorted(to_b, reverse=True), (to_a, to_b)
    assert to_a[0] < to_b[0] and to_b[-1] < to_a[-1]


def test_an_svd_scene_renders_as_segments_each_continuing_the_last(app, farm, settings):
    owner, project, scenes = episode_of(
        app, settings, [{"prompt": "a slow pan over the sea", "duration_s": 20.0}], fps=8
    )
    job = render(app, farm, owner, project, scenes, {"steps": 1, "engine": "svd", "frames": 25})
    assert job.status == "succeeded", (job.error, farm.logs())
    animate = sorted((r for r in job.stage_runs if r.stage == "animate"), key=lambda r: r.segment)
    # 20 s at 8 fps is 160 frames: 81 animated at 4 fps, as 25 + 24 + 24 + 8 new frames.
    assert [(r.segment, r.inputs["params"]["frames"]) for r in animate] == [
        (0, 25),
        (1, 25),
        (2, 25),
        (3, 9),
    ]
    assert all(r.status == "succeeded" and r.progress == 1.0 for r in animate)
    assert len({r.prompt_id for r in animate}) == 4  # each its own unit of GPU work
    interpolate = next(r for r in job.stage_runs if r.stage == "interpolate")
    joined = sorted((settings.artifact_root / f"jobs/{job.id}").rglob("interpolate/a1/joined"))
    assert len(list(joined[0].glob("*.png"))) == 81  # the repeated first frames dropped
    assert asset_of(job, "interpolate", "video").frames == 160
    final = asset_of(job, "mix", "episode")
    assert final.frames == 160 and abs(final.duration_s - 20.0) < 0.05
    frames = decoded(settings.artifact_root / final.uri).astype(np.int16)
    steps = np.abs(np.diff(frames, axis=0)).reshape(159, -1).max(axis=1)
    assert (steps > 8).all(), np.flatnonzero(steps <= 8)
    assert interpolate.status == "succeeded"
