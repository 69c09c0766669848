"""Public read: without an account, a caller reads public projects, their episodes and scenes,
and downloads an episode's newest final cut; nothing private shows and nothing can be written."""

from __future__ import annotations

import pytest

from tests import factories
from tests.support.settings import farm_setting

CUT = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture
def final_cut(app, world, db_session):
    """Two final cuts of the public episode (the newer one holds CUT) and one of the private
    episode."""
    cuts = {}
    for name, episode in (
        ("old", world.rows["public_episode"]),
        ("public", world.rows["public_episode"]),
        ("private", world.rows["episode"]),
    ):
        job = factories.make_job(
            db_session,
            project_id=episode.project_id,
            owner_id=world.users["admin"].id,
            episode_id=episode.id,
            status="succeeded",
        )
        asset = factories.make_asset(
            db_session,
            uri=f"tests/public/{job.id}/final.mp4",
            kind="episode",
            mime_type="video/mp4",
            job_id=job.id,
        )
        path = app.config["SETTINGS"].artifact_root / asset.uri
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(CUT if name != "old" else b"an older cut")
        cuts[name] = asset
    db_session.commit()
    return cuts


def test_anonymous_callers_list_only_public_projects(as_role, world):
    body = as_role(None).get("/api/anime/projects").get_json()
    ids = {p["id"] for p in body["items"]}
    assert world.rows["public"].id in ids and world.rows["project"].id not in ids
    assert all(p["is_public"] for p in body["items"])


def test_anonymous_callers_read_a_public_project_its_episodes_and_scenes(as_role, world):
    anon, rows = as_role(None), world.rows
    assert anon.get(f"/api/anime/projects/{rows['public'].id}").status_code == 200
    episodes = anon.get(f"/api/anime/projects/{rows['public'].id}/episodes").get_json()
    assert [e["id"] for e in episodes["items"]] == [rows["public_episode"].id]
    assert anon.get(f"/api/anime/episodes/{rows['public_episode'].id}").status_code == 200
    scenes = anon.get(f"/api/anime/episodes/{rows['public_episode'].id}/scenes").get_json()
    assert [s["id"] for s in scenes["items"]] == [rows["public_scene"].id]
    assert anon.get(f"/api/anime/scenes/{rows['public_scene'].id}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/anime/projects/{project}",
        "/api/anime/projects/{project}/episodes",
        "/api/anime/episodes/{episode}",
        "/api/anime/episodes/{episode}/scenes",
        "/api/anime/scenes/{scene}",
        "/api/anime/episodes/{episode}/final",
    ],
)
def test_nothing_private_is_visible(as_role, world, path):
    response = as_role(None).get(path.format(**{k: r.id for k, r in world.rows.items()}))
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/anime/projects", {"name": "Mine"}),
        ("PATCH", "/api/anime/projects/{public}", {"style": "ink"}),
        ("DELETE", "/api/anime/projects/{public}", None),
        ("POST", "/api/anime/projects/{public}/episodes", {"number": 2, "title": "Two"}),
        ("PATCH", "/api/anime/episodes/{public_episode}", {"title": "Mine"}),
        ("POST", "/api/anime/episodes/{public_episode}/scenes", {"order": 3, "prompt": "x"}),
        ("PATCH", "/api/anime/scenes/{public_scene}", {"mood": "sad"}),
        ("DELETE", "/api/anime/scenes/{public_scene}", None),
        ("POST", "/api/anime/projects/{public}/generate", {"kind": "image", "scene_ids": [1]}),
        ("GET", "/api/anime/projects/{public}/characters", None),
        ("GET", "/api/anime/jobs", None),
    ],
)  # fmt: skip
def test_anonymous_callers_write_nothing(as_role, world, db_session, method, path, body):
    from shared.models import Project

    before = db_session.get(Project, world.rows["public"].id).style
    response = as_role(None).request(
        method, path.format(**{k: r.id for k, r in world.rows.items()}), json=body
    )
    assert response.status_code == 401, response.get_json()
    db_session.expire_all()
    assert db_session.get(Project, world.rows["public"].id).style == before


def test_the_newest_final_cut_of_a_public_episode_downloads_with_ranges(as_role, world, final_cut):
    anon = as_role(None)
    path = f"/api/anime/episodes/{world.rows['public_episode'].id}/final"
    whole = anon.get(path)
    assert whole.status_code == 200 and whole.data == CUT
    assert whole.mimetype == "video/mp4"
    assert "episode-1.mp4" in whole.headers["Content-Disposition"]
    part = anon.get(path, headers={"Range": "bytes=0-11"})
    assert part.status_code == 206 and part.data == CUT[:12]
    private = f"/api/anime/episodes/{world.rows['episode'].id}/final"
    assert anon.get(private).status_code == 404
    assert as_role("owner").get(private).data == CUT
    # The asset route stays closed to anonymous callers: only the final cut is public.
    assert anon.get(f"/api/anime/assets/{final_cut['public'].id}/content").status_code == 401


def test_guest_status_describes_public_read_and_guest_mode(app, as_role, world):
    anonymous = as_role(None).get("/api/anime/guest-status").get_json()
    assert anonymous == {
        "mode": "images",
        "allowed_kinds": ["image"],
        "jobs_per_hour": 5,
        "jobs_left": None,
        "is_guest": False,
        "public_read": True,
    }
    with farm_setting(app, "public_read", False), farm_setting(app, "guest_jobs_per_hour", 2):
        closed = as_role(None).get("/api/anime/guest-status").get_json()
        refused = as_role(None).get(f"/api/anime/projects/{world.rows['public'].id}")
        guest = as_role("guest").get(f"/api/anime/projects/{world.rows['public'].id}")
        quota = as_role("guest").get("/api/anime/guest-status").get_json()
    assert closed["public_read"] is False and refused.status_code == 401
    assert guest.status_code == 200  # accounts read as before
    assert quota["jobs_per_hour"] == 2 and quota["jobs_left"] == 2
