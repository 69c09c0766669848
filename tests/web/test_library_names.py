"""Scenes name moods and effects the library knows; the API lists them; unknown ones are refused."""

from __future__ import annotations

import pytest

from shared.models import Project, Scene
from tests import factories


@pytest.fixture
def cues(db_session, world):
    """A small library: two music loops and two effects."""
    factories.make_library_entry(db_session, name="calm loop", tags=["calm", "peaceful"])
    factories.make_library_entry(db_session, name="tense loop", tags=["tense", "dark"])
    factories.make_library_entry(db_session, kind="sfx", name="door slam", tags=["door", "impact"])
    factories.make_library_entry(db_session, kind="sfx", name="hit", tags=["impact", "fight"])
    db_session.commit()


def test_moods_and_sounds_are_listed(as_role, cues) -> None:
    api = as_role("guest")
    assert api.get("/api/anime/library/moods").get_json() == {
        "moods": ["calm", "dark", "peaceful", "tense"]
    }
    sounds = api.get("/api/anime/library/sounds").get_json()["sounds"]
    assert sounds == ["door", "door slam", "fight", "hit", "impact"]
    assert as_role(None).get("/api/anime/library/moods").status_code == 401


def test_unknown_mood_and_effect_are_refused_listing_the_known_ones(
    as_role, world, cues, db_session
) -> None:
    api = as_role("owner")
    episode = world.rows["episode"]
    body = {
        "order": 5,
        "prompt": "rain on the roof",
        "duration_s": 2.0,
        "mood": "tense, stormy",
        "sfx_cues": [{"name": "hit", "at_s": 0.5}, {"name": "thunder", "at_s": 1.0}],
    }
    reply = api.post(f"/api/anime/episodes/{episode.id}/scenes", json=body)
    assert reply.status_code == 422, reply.get_json()
    error = reply.get_json()
    assert error["error"] == "validation_error"
    assert error["fields"]["mood"] == "unknown mood stormy; known: calm, dark, peaceful, tense"
    assert (
        "unknown sound effect thunder; known: door, door slam" in error["fields"]["sfx_cues.1.name"]
    )
    assert "sfx_cues.0.name" not in error["fields"]
    assert db_session.query(Scene).filter_by(episode_id=episode.id, order=5).count() == 0

    body |= {"mood": "Tense, dark", "sfx_cues": [{"name": "door slam", "at_s": 0.5}]}
    created = api.post(f"/api/anime/episodes/{episode.id}/scenes", json=body)
    assert created.status_code == 201, created.get_json()


def test_scene_update_and_integrated_check_the_mood(as_role, world, cues) -> None:
    api = as_role("owner")
    scene = world.rows["scene"]
    reply = api.patch(f"/api/anime/scenes/{scene.id}", json={"mood": "jolly"})
    assert reply.status_code == 422
    assert "known: calm" in reply.get_json()["fields"]["mood"]
    reply = api.patch(
        f"/api/anime/scenes/{scene.id}", json={"sfx_cues": [{"name": "boing", "at_s": 0}]}
    )
    assert set(reply.get_json()["fields"]) == {"sfx_cues.0.name"}
    reply = api.post("/generate/integrated", json={"brief": "A duel at dawn.", "mood": "jolly"})
    assert reply.status_code == 422
    assert "mood" in reply.get_json()["fields"]


def test_an_empty_library_checks_nothing(as_role, world) -> None:
    """With no music, no music is laid, so there is nothing to substitute."""
    api = as_role("owner")
    reply = api.patch(f"/api/anime/scenes/{world.rows['scene'].id}", json={"mood": "jolly"})
    assert reply.status_code == 200
    assert api.get("/api/anime/library/moods").get_json() == {"moods": []}


def test_a_production_naming_unknown_ones_is_refused_whole(as_role, cues, db_session) -> None:
    """POST /api/anime/productions saves scenes through the same service: every unknown name
    is reported under its scene, and nothing is created."""
    body = {
        "project": {"name": "Unknown Sounds"},
        "episode": {"number": 1, "title": "One", "fps": 16, "width": 256, "height": 144},
        "scenes": [
            {"prompt": "a quiet room", "duration_s": 2, "mood": "calm"},
            {"prompt": "a storm", "duration_s": 2, "mood": "stormy",
             "sfx_cues": [{"name": "thunder", "at_s": 0.5}]},
        ],
        "render": {"steps": 4, "fps": 8},
    }  # fmt: skip
    reply = as_role("owner").post("/api/anime/productions", json=body)
    assert reply.status_code == 422, reply.get_json()
    fields = reply.get_json()["fields"]
    assert set(fields) == {"scenes.1.mood", "scenes.1.sfx_cues.0.name"}
    assert "known: calm, dark, peaceful, tense" in fields["scenes.1.mood"]
    assert db_session.query(Project).filter_by(name="Unknown Sounds").count() == 0
