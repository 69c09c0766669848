"""Character references on a real farm: a character job's sheet becomes the character's
reference, and keyframes of a one-character scene start from it when the job asks."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from shared.db import db
from shared.models import Character, Scene, Workflow
from tasks.pipeline.stage_rows import prompt_id_for
from tests.tasks.conftest import FAST_OPTIONS, job_row
from tests.tasks.test_pipeline import submit, wait_until_done

REFERENCES = {**FAST_OPTIONS, "use_references": True}


def keyframe_of(job):
    """The job's succeeded keyframe runs, by scene."""
    return {r.scene_id: r for r in job.stage_runs if r.stage == "keyframe" and r.assets}


def test_the_sheet_becomes_the_reference_and_one_character_scenes_start_from_it(
    app, farm, production, settings
):
    with app.app_context():
        aki = db.session.scalar(
            sa.select(Character).where(Character.project_id == production.project_id)
        )
        aki_id = aki.id
        assert aki.reference_asset_id is None
    sheet_job = wait_until_done(
        app, farm, submit(app, production, "character", character_id=aki_id)
    )
    assert sheet_job.status == "succeeded", (sheet_job.error, farm.logs())
    (sheet,) = [a for r in sheet_job.stage_runs for a in r.assets if a.kind == "image"]
    with app.app_context():
        assert db.session.get(Character, aki_id).reference_asset_id == sheet.id

    first, second = production.scene_ids[:2]
    with app.app_context():  # a second character in scene 2: it stays text-to-image
        ren = Character(project_id=production.project_id, name="Ren", trigger_words="chr_ren")
        db.session.add(ren)
        scene = db.session.get(Scene, second)
        scene.characters = [*scene.characters, ren]
        db.session.commit()
    scenes = [first, second]
    referenced = submit(app, production, "image", scene_ids=scenes, options=REFERENCES)
    job = wait_until_done(app, farm, referenced)
    assert job.status == "succeeded", (job.error, farm.logs())
    runs = keyframe_of(job)
    assert runs[first].inputs["reference_asset_id"] == sheet.id
    assert runs[first].inputs["params"]["denoise"] == 0.55
    assert "reference_asset_id" not in runs[second].inputs
    with app.app_context():
        names = {r.scene_id: db.session.get(Workflow, r.workflow_id).name for r in runs.values()}
    assert names == {first: "keyframe_ref", second: "keyframe"}

    plain = wait_until_done(app, farm, submit(app, production, "image", scene_ids=[first]))
    assert plain.status == "succeeded"
    assert "reference_asset_id" not in keyframe_of(plain)[first].inputs

    # What the emulator ran, as the real server records it: the sheet uploaded and loaded,
    # encoded, and sampled from at the reference denoise.
    run = runs[first]
    url = farm.emulators[run.backend].url
    prompt_id = prompt_id_for(run.id, run.attempt)
    graph = requests.get(f"{url}/history/{prompt_id}", timeout=10).json()[prompt_id]["prompt"][2]
    by_class = {node["class_type"]: node["inputs"] for node in graph.values()}
    assert by_class["KSampler"]["denoise"] == 0.55
    assert graph[by_class["KSampler"]["latent_image"][0]]["class_type"] == "VAEEncode"
    subfolder, name = by_class["LoadImage"]["image"].rsplit("/", 1)
    uploaded = requests.get(
        f"{url}/view",
        params={"filename": name, "subfolder": subfolder, "type": "input"},
        timeout=10,
    )
    assert uploaded.content == (settings.artifact_root / sheet.uri).read_bytes()


def test_a_reference_that_is_gone_fails_the_keyframe_naming_it(app, farm, production, settings):
    with app.app_context():
        aki = db.session.scalar(
            sa.select(Character).where(Character.project_id == production.project_id)
        )
        aki_id = aki.id
    sheet_job = wait_until_done(
        app, farm, submit(app, production, "character", character_id=aki_id)
    )
    (sheet,) = [a for r in sheet_job.stage_runs for a in r.assets if a.kind == "image"]
    (settings.artifact_root / sheet.uri).unlink()
    job_id = submit(
        app, production, "image", scene_ids=production.scene_ids[:1], options=REFERENCES
    )
    job = wait_until_done(app, farm, job_id)
    assert job.status == "failed"
    assert f"the reference image (asset {sheet.id}) is gone" in job_row(app, job_id).error
