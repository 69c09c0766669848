"""A retake's seed becomes the scene's own, so it is held to the scene's bound."""

from __future__ import annotations

from web.schemas.common import MAX_SCENE_SEED


def finish_world_job(world, db_session) -> None:
    """Make the world's failed job a succeeded episode job, so its scene can be retaken."""
    world.rows["job"].kind = "episode"
    world.rows["job"].status = "succeeded"
    world.rows["failed"].status = "succeeded"
    db_session.commit()


def test_a_retake_seed_beyond_the_scenes_bound_is_refused(as_role, world, db_session):
    # It used to be taken up to 2**63 - 1 and stored on the scene, whose own PATCH (and
    # production file) then refused the seed it showed.
    finish_world_job(world, db_session)
    api = as_role("owner")
    scene = world.rows["scene"]
    url = f"/api/anime/scenes/{scene.id}/retake"
    refused = api.post(url, json={"seed": MAX_SCENE_SEED + 1})
    assert refused.status_code == 422, refused.get_json()
    assert "seed" in refused.get_json()["fields"]
    assert api.get(f"/api/anime/scenes/{scene.id}").get_json()["seed"] is None
    taken = api.post(url, json={"seed": MAX_SCENE_SEED})
    assert taken.status_code == 202, taken.get_json()
    shown = api.get(f"/api/anime/scenes/{scene.id}").get_json()["seed"]
    assert shown == MAX_SCENE_SEED
    # What the scene shows, its own update takes back.
    again = api.patch(f"/api/anime/scenes/{scene.id}", json={"seed": shown})
    assert again.status_code == 200, again.get_json()
