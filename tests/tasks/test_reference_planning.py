"""Planning with options.use_references: which keyframes start from a reference sheet."""

from __future__ import annotations

import pytest

from shared.errors import ValidationError
from shared.models import Workflow
from tasks.pipeline.planning import plan_job
from tasks.pipeline.workflow_store import seed_default_workflows
from tests import factories


@pytest.fixture
def world(db_session):
    """One episode: scene 0 shows Aki (who has a sheet), scene 1 Aki and Ren, scene 2 Ren."""
    seed_default_workflows(db_session)
    episode = factories.make_episode(db_session, width=256, height=144)
    project_id = episode.project_id
    sheet = factories.make_asset(db_session, uri="tests/sheet.png", mime_type="image/png")
    aki = factories.make_character(db_session, project_id=project_id, reference_asset_id=sheet.id)
    ren = factories.make_character(db_session, project_id=project_id)
    scenes = [
        factories.make_scene(db_session, episode_id=episode.id, order=i, duration_s=1.0)
        for i in range(3)
    ]
    scenes[0].characters, scenes[1].characters, scenes[2].characters = [aki], [aki, ren], [ren]
    db_session.flush()
    return episode, scenes, sheet


def keyframes(db_session, episode, scenes, **options):
    job = plan_job(
        db_session,
        owner_id=episode.project.owner_id,
        project_id=episode.project_id,
        kind="image",
        scene_ids=[s.id for s in scenes],
        options={"steps": 2, **options},
    )
    return {r.scene_id: r for r in job.stage_runs}


def workflow_name(db_session, run) -> str:
    """The name of the workflow a run binds."""
    return db_session.get(Workflow, run.workflow_id).name


def test_only_a_one_character_scene_whose_character_has_a_sheet_uses_it(db_session, world):
    episode, scenes, sheet = world
    runs = keyframes(db_session, episode, scenes, use_references=True)
    first = runs[scenes[0].id]
    assert first.inputs["reference_asset_id"] == sheet.id
    assert first.inputs["params"]["denoise"] == 0.55
    assert first.inputs["params"]["width"] == 256
    assert workflow_name(db_session, first) == "keyframe_ref"
    for scene in scenes[1:]:
        assert "reference_asset_id" not in runs[scene.id].inputs
        assert workflow_name(db_session, runs[scene.id]) == "keyframe"
    plain = keyframes(db_session, episode, scenes)
    assert {workflow_name(db_session, r) for r in plain.values()} == {"keyframe"}


def test_use_references_must_be_a_boolean(db_session, world):
    episode, scenes, _ = world
    with pytest.raises(ValidationError) as refused:
        keyframes(db_session, episode, scenes, use_references="yes")
    assert refused.value.fields == {"options.use_references": "must be true or false"}
