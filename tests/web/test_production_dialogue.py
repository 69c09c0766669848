"""Dialogue in a whole production: speakers by name, lines inside their scene."""

from __future__ import annotations

from shared.models import Character, Scene
from tests.web.test_productions import URL, production

LINE = {"speaker": "Mio", "text": "The tide is turning.", "at_s": 0.5}


def with_line(line: dict) -> dict:
    """The test production with `line` in its first scene and a voice for Mio."""
    body = production()
    body["scenes"][0]["dialogue"] = [line]
    body["characters"][0]["voice"] = "en-gb+f2"
    return body


def test_a_productions_lines_are_written_with_their_speakers(as_role, world, db_session):
    response = as_role("owner").post(URL, json=with_line(LINE))
    assert response.status_code == 201, response.get_json()
    scene = db_session.get(Scene, response.get_json()["scene_ids"][0])
    mio = next(c for c in scene.characters if c.name == "Mio")
    assert scene.dialogue == [{"character_id": mio.id, "text": "The tide is turning.",
                               "at_s": 0.5}]  # fmt: skip
    assert db_session.get(Character, mio.id).voice == "en-gb+f2"


def test_an_unknown_speaker_or_a_late_line_is_named(as_role, world):
    api = as_role("owner")
    stranger = api.post(URL, json=with_line({**LINE, "speaker": "Nobody"}))
    assert stranger.status_code == 422
    assert "scenes.0.dialogue.0.speaker" in stranger.get_json()["fields"]
    late = api.post(URL, json=with_line({**LINE, "at_s": 2.5}))
    assert late.status_code == 422 and "scenes.0.dialogue.0.at_s" in late.get_json()["fields"]
