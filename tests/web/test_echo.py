"""Echo Brain's endpoints against a real OpenAI-compatible server process: each feature kept as
a suggestion, accepting scenes and dialogue, the gateway errors, and life without an LLM."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from tests.support.llm_server import LlmServer, start_llm_server
from workers.echo.semaphore import KEY


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LlmServer]:
    """The scripted LLM server, one process for the module."""
    server = start_llm_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm(app, settings, llm_server) -> Iterator[LlmServer]:
    """The app's LLM settings pointing at the scripted server (a 3 s deadline), for one test."""
    original = app.config["SETTINGS"]
    given = {"llm_base_url": llm_server.url, "llm_model": "test-model", "llm_timeout_s": 3.0,
             "llm_retries": 1}  # fmt: skip
    app.config["SETTINGS"] = original.with_overrides(
        setting_defaults={**original.setting_defaults, **given}
    )
    redis.Redis.from_url(settings.redis_url).delete(KEY)
    try:
        yield llm_server
    finally:
        app.config["SETTINGS"] = original


def reply(data) -> dict:
    """A scripted answer of this JSON."""
    return {"content": json.dumps(data)}


def scene_answer(name: str, count: int = 2) -> dict:
    scene = {"prompt": "rain on a neon street", "characters": [name], "duration_s": 2.5,
             "mood": "tense", "transition": "crossfade"}  # fmt: skip
    return reply({"scenes": [scene] * count})


def test_without_an_llm_enhance_is_rule_based_and_kept(as_role, world):
    api = as_role("owner")
    body = {"prompt": "a rooftop", "project_id": world.rows["project"].id,
            "character_ids": [world.rows["character"].id]}  # fmt: skip
    answer = api.post("/echo/enhance-prompt", json=body).get_json()
    assert answer["model"] == "rules" and "hero_a" in answer["added"]
    kept = api.get(f"/echo/suggestions/{answer['suggestion_id']}").get_json()
    assert kept["feature"] == "enhance_prompt" and kept["output"]["prompt"] == answer["prompt"]


def test_enhance_refuses_a_character_of_another_project_and_keeps_nothing(as_role, world):
    api = as_role("owner")
    mine = api.post("/api/anime/projects", json={"name": "Elsewhere"}).get_json()["id"]
    before = suggestion_count(api, mine)
    body = {"prompt": "a rooftop", "project_id": mine,
            "character_ids": [world.rows["character"].id]}  # fmt: skip
    response = api.post("/echo/enhance-prompt", json=body)
    assert response.status_code == 422, response.get_json()
    assert "character_ids" in response.get_json()["fields"]
    assert suggestion_count(api, mine) == before


def suggestion_count(api, project_id: int) -> int:
    """How many suggestions the project keeps (one page is plenty here)."""
    return len(api.get(f"/echo/projects/{project_id}/suggestions").get_json()["items"])


def test_without_an_llm_generative_features_say_how_to_configure_one(as_role, world):
    response = as_role("owner").post(f"/echo/episodes/{world.rows['episode'].id}/scenes", json={})
    assert response.status_code == 503
    assert response.get_json()["error"] == "llm_not_configured"
    assert "llm_base_url" in response.get_json()["message"]


def test_enhance_asks_the_llm_with_the_project_context(as_role, world, llm):
    llm.script(reply({"prompt": "a rooftop, hero_a, masterpiece", "negative_prompt": "blurry"}))
    body = {"prompt": "a rooftop", "project_id": world.rows["project"].id,
            "character_ids": [world.rows["character"].id]}  # fmt: skip
    answer = as_role("owner").post("/echo/enhance-prompt", json=body).get_json()
    assert answer["model"] == "test-model" and answer["added"] == ["hero_a", "masterpiece"]
    assert "red scarf" in llm.requests()[0]["messages"][1]["content"]


def test_scene_suggestions_are_kept_and_accepted_as_scenes(as_role, world, llm):
    api = as_role("owner")
    episode, character = world.rows["episode"], world.rows["character"]
    llm.script(scene_answer(character.name))
    made = api.post(f"/echo/episodes/{episode.id}/scenes", json={"count": 2, "brief": "rain"})
    assert made.status_code == 201, made.get_json()
    suggestion = made.get_json()
    assert suggestion["output"]["scenes"][0]["character_ids"] == [character.id]
    assert suggestion["model"] == "test-model" and suggestion["latency_ms"] >= 0
    accepted = api.post(f"/echo/suggestions/{suggestion['id']}/accept", json={}).get_json()
    assert accepted["suggestion"]["accepted"] and len(accepted["scene_ids"]) == 2
    scenes = api.get(f"/api/anime/episodes/{episode.id}/scenes").get_json()["items"]
    assert sorted(s["order"] for s in scenes) == [0, 1, 2]
    again = api.post(f"/echo/suggestions/{suggestion['id']}/accept", json={})
    assert again.status_code == 409


def test_dialogue_past_the_scene_is_asked_again_then_accepted(as_role, world, llm):
    api = as_role("owner")
    scene, character = world.rows["scene"], world.rows["character"]
    late = {"lines": [{"speaker": character.name, "text": "Too late", "at_s": 9.0}]}
    good = {"lines": [{"speaker": character.name, "text": "It's raining.", "at_s": 0.4}]}
    llm.script(reply(late), reply(good))
    made = api.post(f"/echo/scenes/{scene.id}/dialogue", json={"max_lines": 2})
    assert made.status_code == 201, made.get_json()
    assert "at_s" in llm.requests()[1]["messages"][-1]["content"]
    line = {"character_id": character.id, "text": "It's raining.", "at_s": 0.4}
    assert made.get_json()["output"]["lines"] == [line]
    accept = f"/echo/suggestions/{made.get_json()['id']}/accept"
    assert api.post(accept, json={}).status_code == 200
    assert api.get(f"/api/anime/scenes/{scene.id}").get_json()["dialogue"] == [line]
    llm.script(reply(good))
    second = api.post(f"/echo/scenes/{scene.id}/dialogue", json={}).get_json()
    refused = api.post(f"/echo/suggestions/{second['id']}/accept", json={})
    assert refused.status_code == 409 and "replace" in refused.get_json()["fields"]
    replaced = api.post(f"/echo/suggestions/{second['id']}/accept", json={"replace": True})
    assert replaced.status_code == 200


def test_continuation_is_accepted_as_the_next_episode(as_role, world, llm):
    api = as_role("owner")
    data = json.loads(scene_answer(world.rows["character"].name, 1)["content"])
    llm.script(reply({"title": "The Storm", "synopsis": "It rains harder.", **data}))
    made = api.post(f"/echo/episodes/{world.rows['episode'].id}/continue", json={}).get_json()
    accepted = api.post(f"/echo/suggestions/{made['id']}/accept", json={}).get_json()
    episode = api.get(f"/api/anime/episodes/{accepted['episode_id']}").get_json()
    assert (episode["number"], episode["title"]) == (2, "The Storm")
    assert len(accepted["scene_ids"]) == 1


def test_brainstorm_and_analysis_are_kept_for_the_project(as_role, world, llm):
    api = as_role("owner")
    project, episode, scene = world.rows["project"], world.rows["episode"], world.rows["scene"]
    ideas = {"premises": ["a city that forgets"], "characters": [], "settings": ["rooftops"]}
    finding = {"kind": "pacing", "severity": "low", "message": "slow start",
               "scenes": [scene.order]}  # fmt: skip
    llm.script(reply(ideas), reply({"summary": "fine", "findings": [finding]}))
    assert api.post(f"/echo/projects/{project.id}/brainstorm", json={}).status_code == 201
    analysis = api.post(f"/echo/episodes/{episode.id}/analysis").get_json()
    assert analysis["output"]["findings"][0]["scene_ids"] == [scene.id]
    page = api.get(f"/echo/projects/{project.id}/suggestions").get_json()
    assert [s["feature"] for s in page["items"]] == ["analysis", "brainstorm"]
    assert as_role("other").get(f"/echo/suggestions/{analysis['id']}").status_code == 404
    guest = as_role("guest").post(f"/echo/projects/{project.id}/brainstorm", json={})
    assert guest.status_code == 403


def test_gateway_errors_are_502_and_504_never_500(as_role, world, llm):
    api = as_role("owner")
    url = f"/echo/projects/{world.rows['project'].id}/brainstorm"
    llm.script({"content": "not json"}, {"content": "still not json"})
    bad = api.post(url, json={})
    assert bad.status_code == 502 and "JSON" in bad.get_json()["message"]
    llm.script({"content": "{}", "delay_s": 6})
    assert api.post(url, json={}).status_code == 504
    llm.script({"status": 401, "message": "invalid api key"})
    refused = api.post(url, json={})
    assert refused.status_code == 502 and "invalid api key" in refused.get_json()["message"]
    page = api.get(f"/echo/projects/{world.rows['project'].id}/suggestions").get_json()
    assert page["items"] == []
