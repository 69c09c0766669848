"""Scene dialogue through the scene API: speakers of the project, lines inside the scene."""

from __future__ import annotations

from tests import factories


def test_scene_keeps_its_dialogue_in_time_order(as_role, world):
    api = as_role("owner")
    aki = world.rows["character"].id
    lines = [
        {"character_id": aki, "text": "Look at the rain.", "at_s": 1.2},
        {"character_id": aki, "text": "Hey.", "at_s": 0.2},
    ]
    url = f"/api/anime/episodes/{world.rows['episode'].id}/scenes"
    created = api.post(url, json={"order": 5, "prompt": "p", "duration_s": 2, "dialogue": lines})
    assert created.status_code == 201, created.get_json()
    assert [line["at_s"] for line in created.get_json()["dialogue"]] == [0.2, 1.2]
    scene_id = created.get_json()["id"]
    fetched = api.get(f"/api/anime/scenes/{scene_id}").get_json()
    assert fetched["dialogue"][1]["text"] == "Look at the rain."


def test_a_line_after_the_scene_is_refused_naming_it(as_role, world):
    api = as_role("owner")
    line = {"character_id": world.rows["character"].id, "text": "late", "at_s": 2.5}
    url = f"/api/anime/episodes/{world.rows['episode'].id}/scenes"
    late = api.post(url, json={"order": 5, "prompt": "p", "duration_s": 2, "dialogue": [line]})
    assert late.status_code == 422 and "dialogue.0.at_s" in late.get_json()["fields"]
    # A PATCH without a duration is checked against the scene's stored one (2 s).
    scene = world.rows["scene"]
    patched = api.patch(f"/api/anime/scenes/{scene.id}", json={"dialogue": [line]})
    assert patched.status_code == 422 and "dialogue.0.at_s" in patched.get_json()["fields"]
    assert api.get(f"/api/anime/scenes/{scene.id}").get_json()["dialogue"] == []


def test_shortening_a_scene_under_its_lines_is_refused(as_role, world):
    api = as_role("owner")
    scene = world.rows["scene"]
    line = {"character_id": world.rows["character"].id, "text": "Hi", "at_s": 1.5}
    assert api.patch(f"/api/anime/scenes/{scene.id}", json={"dialogue": [line]}).status_code == 200
    short = api.patch(f"/api/anime/scenes/{scene.id}", json={"duration_s": 1.0})
    assert short.status_code == 422 and "dialogue.0.at_s" in short.get_json()["fields"]
    assert api.get(f"/api/anime/scenes/{scene.id}").get_json()["duration_s"] == 2.0


def test_a_speaker_from_another_project_is_refused(as_role, world, db_session):
    stranger = factories.make_character(db_session)
    api = as_role("owner")
    line = {"character_id": stranger.id, "text": "Hi", "at_s": 0.5}
    response = api.patch(f"/api/anime/scenes/{world.rows['scene'].id}", json={"dialogue": [line]})
    assert response.status_code == 422
    assert "dialogue.0.character_id" in response.get_json()["fields"]


def test_characters_take_an_optional_voice(as_role, world):
    api = as_role("owner")
    url = f"/api/anime/characters/{world.rows['character'].id}"
    assert api.patch(url, json={"voice": "en-us+f3"}).get_json()["voice"] == "en-us+f3"
    bad = api.patch(url, json={"voice": "en; rm -rf /"})
    assert bad.status_code == 422 and "voice" in bad.get_json()["fields"]


def test_a_character_who_speaks_lines_is_not_deleted(as_role, world):
    # Deleting it used to answer 204 and leave the lines with a speaker that no longer
    # exists: the scene then refused every change of its length over a line never touched.
    api = as_role("owner")
    aki, scene = world.rows["character"], world.rows["scene"]
    line = {"character_id": aki.id, "text": "Hi", "at_s": 0.5}
    assert api.patch(f"/api/anime/scenes/{scene.id}", json={"dialogue": [line]}).status_code == 200
    refused = api.delete(f"/api/anime/characters/{aki.id}")
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["fields"] == {"dialogue": f"spoken in scenes [{scene.id}]"}
    assert api.get(f"/api/anime/characters/{aki.id}").status_code == 200
    assert api.get(f"/api/anime/scenes/{scene.id}").get_json()["dialogue"][0]["text"] == "Hi"
    # Once no line is theirs, the character goes.
    assert api.patch(f"/api/anime/scenes/{scene.id}", json={"dialogue": []}).status_code == 200
    assert api.delete(f"/api/anime/characters/{aki.id}").status_code == 204
