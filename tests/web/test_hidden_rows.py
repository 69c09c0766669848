"""Another user's characters, episodes and scenes answer exactly as missing ones do: a 404
naming the row asked for, never its project (which would tell that the row exists, and
where), and nothing is changed."""

from __future__ import annotations

import pytest

from shared.db import db
from shared.models import Character, Episode, Scene

MISSING = 999_999_999

CALLS = [
    ("GET", "/api/anime/characters/{id}", "character", None),
    ("PATCH", "/api/anime/characters/{id}", "character", {"name": "taken over"}),
    ("DELETE", "/api/anime/characters/{id}", "character", None),
    ("POST", "/api/anime/characters/{id}/generate", "character", {}),
    ("GET", "/api/anime/episodes/{id}", "episode", None),
    ("PATCH", "/api/anime/episodes/{id}", "episode", {"title": "taken over"}),
    ("DELETE", "/api/anime/episodes/{id}", "episode", None),
    ("GET", "/api/anime/episodes/{id}/scenes", "episode", None),
    ("GET", "/api/anime/episodes/{id}/final", "episode", None),
    ("GET", "/api/anime/scenes/{id}", "scene", None),
    ("PATCH", "/api/anime/scenes/{id}", "scene", {"prompt": "taken over"}),
    ("DELETE", "/api/anime/scenes/{id}", "scene", None),
    ("POST", "/api/anime/scenes/{id}/retake", "scene", {}),
    ("POST", "/api/anime/scenes/{id}/generate", "scene", {}),
]


@pytest.mark.parametrize(("method", "path", "what", "body"), CALLS)
@pytest.mark.parametrize("caller", ["other", None])
def test_a_hidden_row_answers_as_a_missing_one(as_role, world, method, path, what, body, caller):
    api = as_role(caller)
    row = world.rows[what]
    hidden = api.request(method, path.format(id=row.id), json=body)
    missing = api.request(method, path.format(id=MISSING), json=body)
    assert (
        (hidden.status_code, missing.status_code) == (404, 404)
        or caller is None
        and {
            hidden.status_code,
            missing.status_code,
        }
        == {401}
    ), (hidden.json, missing.json)
    assert hidden.json["message"] == missing.json["message"].replace(str(MISSING), str(row.id))
    assert "project" not in hidden.json["message"]


def test_nothing_hidden_is_changed(as_role, world):
    other = as_role("other")
    rows = world.rows
    for path, body in (
        (f"/api/anime/characters/{rows['character'].id}", {"name": "taken over"}),
        (f"/api/anime/episodes/{rows['episode'].id}", {"title": "taken over"}),
        (f"/api/anime/scenes/{rows['scene'].id}", {"prompt": "taken over"}),
    ):
        assert other.patch(path, json=body).status_code == 404
    db.session.expire_all()
    assert db.session.get(Character, rows["character"].id).name != "taken over"
    assert db.session.get(Episode, rows["episode"].id).title != "taken over"
    assert db.session.get(Scene, rows["scene"].id).prompt != "taken over"
