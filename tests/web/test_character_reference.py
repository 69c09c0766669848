"""A character shows its reference sheet; a job may ask keyframes to start from it."""

from __future__ import annotations

from shared.models import StageRun


def test_a_character_shows_its_reference_sheet(as_role, world, db_session) -> None:
    character, asset = world.rows["character"], world.rows["asset"]
    api = as_role("owner")
    shown = api.get(f"/api/anime/characters/{character.id}").get_json()
    assert shown["reference_asset_id"] is None and shown["reference_url"] is None
    character.reference_asset_id = asset.id
    db_session.commit()
    shown = api.get(f"/api/anime/characters/{character.id}").get_json()
    assert shown["reference_asset_id"] == asset.id
    assert shown["reference_url"] == f"/api/anime/assets/{asset.id}/content"
    assert api.get(shown["reference_url"]).status_code == 200


def test_use_references_is_a_render_option(as_role, world, db_session) -> None:
    character, scene = world.rows["character"], world.rows["scene"]
    character.reference_asset_id = world.rows["asset"].id
    scene.characters = [character]
    db_session.commit()
    api = as_role("owner")
    reply = api.post(
        f"/api/anime/scenes/{scene.id}/generate",
        json={"kind": "image", "options": {"use_references": True}},
    )
    assert reply.status_code == 202, reply.get_json()
    (run,) = db_session.query(StageRun).filter_by(job_id=reply.get_json()["request_id"]).all()
    assert run.inputs["reference_asset_id"] == world.rows["asset"].id
    refused = api.post(
        f"/api/anime/scenes/{scene.id}/generate",
        json={"kind": "image", "options": {"use_references": "yes"}},
    )
    assert refused.status_code == 422
    assert "options.use_references" in refused.get_json()["fields"]
