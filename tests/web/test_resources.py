"""What the endpoints do: issue-4 shapes, reordering, job filters and pages, the status report,
asset ranges, workflow uploads and the prompt enhancer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests import factories
from tests.web.test_roles import upload_body


def test_issue4_create_and_read_shapes(as_role):
    api = as_role("owner")
    project = api.post("/api/anime/projects", json={"name": "Tide", "style": "watercolor"})
    assert project.status_code == 201
    pid = project.get_json()["id"]
    character = api.post(
        f"/api/anime/projects/{pid}/characters",
        json={
            "name": "Aoi",
            "lora_name": "aoi_v2.safetensors",
            "lora_strength": 0.7,
            "trigger_words": "aoi, blue hair",
        },
    )
    assert character.status_code == 201
    cid = character.get_json()["id"]
    episode = api.post(f"/api/anime/projects/{pid}/episodes", json={"number": 1, "title": "Ebb"})
    eid = episode.get_json()["id"]
    scene = api.post(
        f"/api/anime/episodes/{eid}/scenes",
        json={
            "order": 0,
            "prompt": "aoi on a pier",
            "negative_prompt": "blurry",
            "character_ids": [cid],
            "duration_s": 2.5,
            "mood": "calm",
            "transition": "crossfade",
        },
    )
    assert scene.status_code == 201, scene.get_json()
    sid = scene.get_json()["id"]
    got = api.get(f"/api/anime/scenes/{sid}").get_json()
    assert got["character_ids"] == [cid] and got["transition"] == "crossfade"
    assert api.get(f"/api/anime/characters/{cid}").get_json()["lora_strength"] == 0.7
    assert api.get(f"/api/anime/episodes/{eid}").get_json()["title"] == "Ebb"
    assert api.get(f"/api/anime/projects/{pid}").get_json()["style"] == "watercolor"
    scenes = api.get(f"/api/anime/episodes/{eid}/scenes").get_json()
    assert [s["id"] for s in scenes["items"]] == [sid] and scenes["next_cursor"] is None


def test_scene_characters_must_come_from_the_same_project(as_role, world, db_session):
    stranger = factories.make_character(db_session, project_id=world.rows["public"].id)
    db_session.commit()
    response = as_role("owner").post(
        f"/api/anime/episodes/{world.rows['episode'].id}/scenes",
        json={"order": 3, "prompt": "p", "duration_s": 1, "character_ids": [stranger.id]},
    )
    assert response.status_code == 422 and "character_ids" in response.get_json()["fields"]


def test_reorder_swaps_scenes(as_role, world, db_session):
    episode = world.rows["episode"]
    second = factories.make_scene(db_session, episode_id=episode.id, order=1)
    db_session.commit()
    first = world.rows["scene"].id
    api = as_role("owner")
    response = api.post(
        f"/api/anime/episodes/{episode.id}/scenes/reorder", json={"scene_ids": [second.id, first]}
    )
    assert response.status_code == 200
    assert [(s["id"], s["order"]) for s in response.get_json()] == [(second.id, 0), (first, 1)]
    partial = api.post(
        f"/api/anime/episodes/{episode.id}/scenes/reorder", json={"scene_ids": [first]}
    )
    assert partial.status_code == 422


def test_an_episode_of_more_than_100_scenes_can_be_reordered(as_role, world, db_session):
    # Scenes are added one request at a time, but a reorder (which must list every scene)
    # was capped at 100 ids: such an episode could never be reordered.
    episode = world.rows["episode"]
    for order in range(1, 150):
        factories.make_scene(db_session, episode_id=episode.id, order=order)
    db_session.commit()
    ids = [s.id for s in sorted(episode.scenes, key=lambda s: s.order)]
    assert len(ids) == 150
    api = as_role("owner")
    url = f"/api/anime/episodes/{episode.id}/scenes/reorder"
    response = api.post(url, json={"scene_ids": ids[::-1]})
    assert response.status_code == 200, response.get_json()
    assert [s["id"] for s in response.get_json()] == ids[::-1]
    assert [s["order"] for s in response.get_json()] == list(range(150))


def test_projects_list_shows_own_and_public_only(as_role, world):
    ids = {
        p["id"] for p in as_role("other").get("/api/anime/projects?limit=200").get_json()["items"]
    }
    assert world.rows["public"].id in ids and world.rows["project"].id not in ids


def test_jobs_filters_and_keyset_pages(as_role, world, db_session):
    owner = world.users["owner"]
    base = datetime.now(UTC) - timedelta(hours=2)
    made = [
        factories.make_job(
            db_session,
            project_id=world.rows["project"].id,
            owner_id=owner.id,
            kind="image",
            status="succeeded" if i % 2 else "queued",
            created_at=base + timedelta(minutes=i),
        )
        for i in range(5)
    ]
    factories.make_job(
        db_session, project_id=world.rows["public"].id, owner_id=world.users["admin"].id
    )
    db_session.commit()
    api = as_role("owner")
    seen, cursor = [], None
    while True:
        query = "kind=image&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/api/anime/jobs?{query}").get_json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [j.id for j in reversed(made)]
    done = api.get("/api/anime/jobs?status=succeeded&kind=image").get_json()["items"]
    assert [j["id"] for j in done] == [made[3].id, made[1].id]
    since = (base + timedelta(minutes=2, seconds=30)).isoformat()
    recent = api.get("/api/anime/jobs", query_string={"created_after": since, "kind": "image"})
    assert [j["id"] for j in recent.get_json()["items"]] == [made[4].id, made[3].id]
    mine_only = {j["owner_id"] for j in api.get("/api/anime/jobs").get_json()["items"]}
    assert mine_only == {owner.id}
    response = as_role("operator").get(f"/api/anime/jobs?owner_id={world.users['admin'].id}")
    assert response.status_code == 200, response.get_json()
    everyone = response.get_json()["items"]
    assert everyone and {j["owner_id"] for j in everyone} == {world.users["admin"].id}


def test_status_report_shape(as_role, world):
    report = as_role("owner").get(f"/api/anime/generation/{world.rows['job'].id}/status").get_json()
    assert {
        "request_id",
        "status",
        "progress",
        "current_stage",
        "error",
        "stages",
        "outputs",
    } <= set(report)
    keyframe, animate = report["stages"]
    assert {
        "id",
        "scene_id",
        "stage",
        "status",
        "attempt",
        "progress",
        "backend",
        "prompt_id",
        "error",
        "outputs",
    } <= set(keyframe)
    asset = world.rows["asset"].id
    assert keyframe["outputs"] == [
        {"asset_id": asset, "kind": "image", "url": f"/api/anime/assets/{asset}/content"}
    ]
    assert animate["status"] == "failed" and "out of memory" in animate["error"]
    # The last stage that has outputs decides the job's deliverables; animate has none yet.
    assert report["outputs"] == []


def test_asset_content_supports_ranges(as_role, world):
    api = as_role("owner")
    url = f"/api/anime/assets/{world.rows['asset'].id}/content"
    whole = api.get(url)
    assert whole.status_code == 200 and len(whole.data) == 1024
    assert whole.headers["Content-Type"] == "image/png"
    part = api.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == bytes(range(10, 20))
    assert part.headers["Content-Range"] == "bytes 10-19/1024"
    assert api.get(url, headers={"Range": "bytes=5000-"}).status_code == 416
    meta = api.get(f"/api/anime/assets/{world.rows['asset'].id}").get_json()
    assert meta["url"] == url and meta["job_id"] == world.rows["job"].id
    assert meta["superseded_at"] is None  # current: no later attempt replaced it


def test_asset_without_a_file_is_404(as_role, world, db_session):
    asset = factories.make_asset(db_session, uri="tests/web/gone.png", job_id=world.rows["job"].id)
    db_session.commit()
    response = as_role("owner").get(f"/api/anime/assets/{asset.id}/content")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_workflow_upload_versions_and_activation(as_role):
    api = as_role("owner")
    first = api.post("/api/anime/workflows", json=upload_body("my-keyframe"))
    assert first.status_code == 201, first.get_json()
    second = api.post("/api/anime/workflows", json={**upload_body("my-keyframe"), "activate": True})
    assert second.get_json()["version"] == 2 and second.get_json()["is_active"]
    activated = api.post(f"/api/anime/workflows/{first.get_json()['id']}/activate")
    assert activated.get_json()["is_active"]
    listed = api.get("/api/anime/workflows?name=my-keyframe").get_json()
    assert [(w["version"], w["is_active"]) for w in listed] == [(1, True), (2, False)]
    assert "KSampler" in first.get_json()["node_classes"]
    taken = as_role("other").post("/api/anime/workflows", json=upload_body("my-keyframe"))
    assert taken.status_code == 403
    builtin = api.post("/api/anime/workflows", json=upload_body("keyframe"))
    assert builtin.status_code == 403


def test_workflow_upload_rejections_name_the_problem(as_role):
    body = upload_body("bad-keyframe")
    graph = {**body["graph"], "99": {"class_type": "ExecuteArbitraryCode", "inputs": {}}}
    response = as_role("owner").post("/api/anime/workflows", json={**body, "graph": graph})
    assert response.status_code == 422
    assert any("99" in key for key in response.get_json()["fields"])
    editor = as_role("owner").post(
        "/api/anime/workflows", json={**body, "graph": {"nodes": [], "links": []}}
    )
    assert editor.status_code == 422 and "API" in editor.get_json()["message"]


def test_enhance_prompt_adds_tags_once(as_role, world):
    response = as_role("owner").post(
        "/echo/enhance-prompt",
        json={
            "prompt": "red scarf, a rooftop at night",
            "project_id": world.rows["project"].id,
            "character_ids": [world.rows["character"].id],
        },
    )
    body = response.get_json()
    assert body["prompt"].startswith("red scarf, a rooftop at night, hero_a")
    assert "red scarf" not in body["added"] and "masterpiece" in body["added"]
    assert body["negative_prompt"]


def test_an_uploaded_workflow_keeps_its_description(db_session, app):
    from dataclasses import replace

    from tasks.pipeline.workflow_store import row_from_template
    from workers.workflows import default_templates

    template = replace(default_templates()["keyframe"], description="soft light, 2 LoRAs")
    assert row_from_template("described", template).description == "soft light, 2 LoRAs"


def test_scenes_keep_their_sound_effect_cues(as_role, world):
    api = as_role("owner")
    url = f"/api/anime/episodes/{world.rows['episode'].id}/scenes"
    cues = [{"name": "whoosh", "at_s": 0.5, "gain_db": -3.0}]
    created = api.post(url, json={"order": 7, "prompt": "p", "duration_s": 2, "sfx_cues": cues})
    assert created.status_code == 201 and created.get_json()["sfx_cues"] == cues
    late = api.post(
        url,
        json={"order": 8, "prompt": "p", "duration_s": 2, "sfx_cues": [{"name": "hit", "at_s": 3}]},
    )
    assert late.status_code == 422 and "sfx_cues.0.at_s" in late.get_json()["fields"]
