"""POST /api/anime/productions: a whole production in one transaction, updated when submitted
again, a dry run that writes nothing, and warnings for models no online node has."""

from __future__ import annotations

import copy

import sqlalchemy as sa

from shared.models import Job, Project, Scene, Workflow
from shared.models.columns import utcnow
from tests import factories

URL = "/api/anime/productions"
PRODUCTION = {
    "project": {"name": "Glass Harbour", "style": "anime, watercolour"},
    "characters": [
        {"name": "Mio", "lora_name": "character_v1.safetensors", "trigger_words": "chr_mio"},
        {"name": "Tet", "lora_name": "hero_a.safetensors"},
    ],
    "episode": {"number": 1, "title": "Low Tide", "fps": 16, "width": 256, "height": 144},
    "scenes": [
        {"prompt": "Mio on the pier", "duration_s": 2, "characters": ["Mio"], "mood": "calm"},
        {
            "prompt": "Tet runs along the sea wall",
            "duration_s": 2,
            "characters": ["Mio", "Tet"],
            "transition": "crossfade",
            "transition_s": 0.5,
            "sfx_cues": [{"name": "whoosh", "at_s": 0.5}],
        },
        {"prompt": "the harbour lights come on", "duration_s": 1.5},
    ],
    "render": {"steps": 4, "frames": 16, "fps": 8, "width": 256, "height": 144},
    "priority": 4,
}


def production(**changes) -> dict:
    """A copy of PRODUCTION with top-level sections replaced."""
    return {**copy.deepcopy(PRODUCTION), **changes}


def projects_named(db_session, name: str) -> list[Project]:
    return list(db_session.scalars(sa.select(Project).where(Project.name == name)))


def test_a_production_is_created_with_its_render_in_one_request(as_role, world, db_session):
    response = as_role("owner").post(URL, json=production())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["result"] == "created" and body["dry_run"] is False
    assert body["status"] == "queued"
    assert body["status_url"] == f"/api/anime/generation/{body['request_id']}/status"
    [project] = projects_named(db_session, "Glass Harbour")
    assert project.owner_id == world.users["owner"].id and body["project_id"] == project.id
    scenes = [db_session.get(Scene, i) for i in body["scene_ids"]]
    assert [s.order for s in scenes] == [1, 2, 3]
    assert [c.name for c in scenes[1].characters] == ["Mio", "Tet"]
    assert scenes[1].sfx_cues == [{"name": "whoosh", "at_s": 0.5, "gain_db": 0.0}]
    assert set(body["character_ids"]) == {"Mio", "Tet"}
    job = db_session.get(Job, body["request_id"])
    assert (job.kind, job.episode_id, job.priority) == ("episode", body["episode_id"], 4)
    assert len([r for r in job.stage_runs if r.stage == "keyframe"]) == 3


def test_any_refused_part_refuses_the_whole_and_every_problem_is_named(as_role, world, db_session):
    bad = production()
    bad["scenes"][0]["duration_s"] = 600
    bad["scenes"][1]["characters"] = ["Mio", "Rin"]
    bad["scenes"][2]["sfx_cues"] = [{"name": "hit", "at_s": 0.5, "gain_db": 20}]
    bad["characters"][1]["lora_strenght"] = 0.7
    bad["characters"].append({"name": "Mio"})
    bad["scenes"][2]["mod"] = "calm"
    response = as_role("owner").post(URL, json=bad)
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["fields"]
    assert set(fields) == {
        "scenes.0.duration_s",
        "scenes.1.characters.1",
        "scenes.2.sfx_cues.0.gain_db",
        "characters.1.lora_strenght",
        "characters.2.name",
        "scenes.2.mod",
    }, fields
    assert fields["characters.2.name"] == "'Mio' is defined twice"
    assert "12" in fields["scenes.2.sfx_cues.0.gain_db"]
    assert "60" in fields["scenes.0.duration_s"]
    assert "no character named 'Rin'" in fields["scenes.1.characters.1"]
    assert projects_named(db_session, "Glass Harbour") == []


def test_a_refusal_after_the_rows_are_written_leaves_nothing(as_role, world, db_session):
    # Priorities above 5 are for staff: checked once the rows are written; nothing stays.
    jobs = db_session.scalar(sa.select(sa.func.count(Job.id)))
    response = as_role("owner").post(URL, json=production(priority=8))
    assert response.status_code == 403, response.get_json()
    assert "priority" in response.get_json()["fields"]
    unknown = production(render={"steps": 4, "workflows": {"keyframe": 99999}})
    response = as_role("owner").post(URL, json=unknown)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["fields"] == {"render.workflows": "keyframe"}
    assert projects_named(db_session, "Glass Harbour") == []
    assert db_session.scalar(sa.select(sa.func.count(Job.id))) == jobs


def test_submitting_again_updates_the_production(as_role, world, db_session):
    api = as_role("owner")
    first = api.post(URL, json=production()).get_json()
    busy = api.post(URL, json=production())
    assert busy.status_code == 409, busy.get_json()
    assert f"job {first['request_id']}" in busy.get_json()["message"]
    assert api.post(f"/api/anime/generation/{first['request_id']}/cancel").status_code == 202
    changed = production(scenes=PRODUCTION["scenes"][:2])
    changed["characters"][0]["trigger_words"] = "chr_mio, yellow coat"
    changed["scenes"][0]["prompt"] = "Mio on the pier at dawn"
    response = api.post(URL, json=changed)
    assert response.status_code == 200, response.get_json()
    again = response.get_json()
    assert again["result"] == "updated"
    assert (again["project_id"], again["episode_id"]) == (first["project_id"], first["episode_id"])
    assert again["request_id"] != first["request_id"]
    assert again["scene_ids"] == first["scene_ids"][:2]
    assert again["character_ids"] == first["character_ids"]
    db_session.expire_all()
    [project] = projects_named(db_session, "Glass Harbour")
    [episode] = project.episodes
    assert [s.prompt for s in episode.scenes] == [
        "Mio on the pier at dawn",
        changed["scenes"][1]["prompt"],
    ]
    assert project.characters[0].trigger_words == "chr_mio, yellow coat"
    # Another episode number of the same project is a new production of that project.
    cancel = f"/api/anime/generation/{again['request_id']}/cancel"
    assert api.post(cancel).status_code == 202
    second = api.post(URL, json=production(episode={"number": 2, "title": "High Tide"}))
    assert second.status_code == 201
    assert second.get_json()["project_id"] == first["project_id"]


def test_a_key_matches_the_production_even_when_renamed(as_role, world, db_session):
    api = as_role("owner")
    first = api.post(URL, json=production()).get_json()
    api.post(f"/api/anime/generation/{first['request_id']}/cancel")
    # A key added to a file submitted without one: that production takes the key.
    keyed = api.post(URL, json=production(key="harbour-s1")).get_json()
    assert (keyed["result"], keyed["project_id"]) == ("updated", first["project_id"])
    assert db_session.get(Project, first["project_id"]).production_key == "harbour-s1"
    api.post(f"/api/anime/generation/{keyed['request_id']}/cancel")
    renamed = production(key="harbour-s1", project={"name": "Glass Harbour (final)"})
    again = api.post(URL, json=renamed).get_json()
    assert (again["result"], again["project_id"]) == ("updated", first["project_id"])
    assert db_session.get(Project, first["project_id"]).name == "Glass Harbour (final)"
    # Keys are per owner: another user's file with the same key is a production of theirs.
    theirs = as_role("other").post(URL, json=production(key="harbour-s1")).get_json()
    assert theirs["result"] == "created" and theirs["project_id"] != first["project_id"]
    bad = as_role("other").post(URL, json=production(key="no spaces"))
    assert bad.status_code == 422 and "key" in bad.get_json()["fields"]


def test_a_name_that_matches_several_projects_is_a_conflict(as_role, world, db_session):
    owner = world.users["owner"].id
    for _ in range(2):
        project = factories.make_project(db_session, owner_id=owner, name="Glass Harbour")
        factories.make_episode(db_session, project_id=project.id, number=1)
    db_session.commit()
    response = as_role("owner").post(URL, json=production())
    assert response.status_code == 409, response.get_json()
    assert "key" in response.get_json()["message"]
    assert len(projects_named(db_session, "Glass Harbour")) == 2


def test_a_dry_run_checks_everything_and_writes_nothing(as_role, world, db_session):
    api = as_role("owner")
    response = api.post(f"{URL}?dry_run=true", json=production())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["result"], body["dry_run"], body["request_id"]) == ("created", True, None)
    assert body["project_id"] is None and body["scene_ids"] == []
    assert body["warnings"] == [
        {"field": "", "message": "no GPU node is online: the render waits for one"}
    ]
    assert projects_named(db_session, "Glass Harbour") == []
    bad = production(render={"frames": 1000})
    refused = api.post(f"{URL}?dry_run=true", json=bad)
    assert refused.status_code == 422 and "render.frames" in refused.get_json()["fields"]


def test_a_dry_run_names_the_models_no_online_node_has(as_role, world, db_session):
    models: dict[str, set[str]] = {}
    for workflow in db_session.scalars(sa.select(Workflow)):
        for folder, names in workflow.models.items():
            models.setdefault(folder, set()).update(names)
    models.setdefault("loras", set()).add("character_v1.safetensors")
    factories.make_worker_node(
        db_session,
        models={k: sorted(v) for k, v in models.items()},
        last_heartbeat=utcnow(),
    )
    # A drained node has the missing LoRA: it does not count.
    factories.make_worker_node(
        db_session,
        models={"loras": ["hero_a.safetensors"]},
        status="draining",
        last_heartbeat=utcnow(),
    )
    db_session.commit()
    render = {**PRODUCTION["render"], "checkpoint": "nowhere.safetensors"}
    body = as_role("owner").post(f"{URL}?dry_run=true", json=production(render=render)).get_json()
    assert body["warnings"] == [
        {
            "field": "render.checkpoint",
            "message": "no online GPU node has checkpoints/nowhere.safetensors: the render would"
            " wait for one",
        },
        {
            "field": "characters.1.lora_name",
            "message": "no online GPU node has loras/hero_a.safetensors: the render would wait"
            " for one",
        },
    ], body


def test_guests_cannot_submit_productions(as_role, world):
    assert as_role("guest").post(URL, json=production()).status_code == 403
    assert as_role(None).post(URL, json=production()).status_code == 401


def test_the_render_may_ask_for_an_upscale(as_role, world):
    api = as_role("owner")
    render = {**PRODUCTION["render"], "upscale": {"factor": 2}}
    assert api.post(f"{URL}?dry_run=true", json=production(render=render)).status_code == 200
    render["upscale"] = {"factor": 2, "height": 720}
    refused = api.post(f"{URL}?dry_run=true", json=production(render=render))
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["fields"] == {
        "render.upscale": "give exactly one of factor or height"
    }
