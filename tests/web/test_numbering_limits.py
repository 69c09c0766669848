"""Rows made at "last + 1" (the integrated preset's episode, an accepted Echo Brain
continuation or scenes) stay within the API's bounds on episode numbers and scene orders:
past them the request is refused naming a field, and nothing is written."""

from __future__ import annotations

import sqlalchemy as sa

from shared.models import Episode, Job, Scene, Suggestion
from tests import factories
from web.schemas.common import MAX_EPISODE_NUMBER, MAX_SCENE_ORDER

SCENE = {"prompt": "rain on a neon street", "character_ids": [], "duration_s": 2.0,
         "mood": "tense", "transition": "cut", "motion": ""}  # fmt: skip


def counts(db_session) -> tuple[int, int, int]:
    """How many episodes, scenes and jobs there are."""
    return tuple(
        db_session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Episode, Scene, Job)
    )


def make_suggestion(db_session, world, feature: str, output: dict, episode) -> Suggestion:
    """A kept answer of the owner's, about `episode`."""
    row = Suggestion(owner_id=world.users["owner"].id, project_id=episode.project_id,
                     episode_id=episode.id, feature=feature, model="test-model",
                     output=output)  # fmt: skip
    db_session.add(row)
    db_session.commit()
    return row


def test_integrated_into_a_project_at_the_last_episode_number_is_refused(
    as_role, world, db_session
):
    project = world.rows["project"]
    factories.make_episode(db_session, project_id=project.id, number=MAX_EPISODE_NUMBER)
    db_session.commit()
    before = counts(db_session)
    refused = as_role("owner").post(
        "/generate/integrated", json={"brief": "A girl waits.", "project_id": project.id}
    )
    assert refused.status_code == 409, refused.get_json()
    assert "project_id" in refused.get_json()["fields"]
    assert counts(db_session) == before


def test_accepting_a_continuation_after_the_last_episode_number_is_refused(
    as_role, world, db_session
):
    last = factories.make_episode(
        db_session, project_id=world.rows["project"].id, number=MAX_EPISODE_NUMBER
    )
    output = {"title": "After the end", "synopsis": "More.", "scenes": [SCENE]}
    suggestion = make_suggestion(db_session, world, "continuation", output, last)
    before = counts(db_session)
    refused = as_role("owner").post(f"/echo/suggestions/{suggestion.id}/accept", json={})
    assert refused.status_code == 409, refused.get_json()
    assert "number" in refused.get_json()["fields"]
    assert counts(db_session) == before
    db_session.expire_all()
    assert not db_session.get(Suggestion, suggestion.id).accepted


def test_accepted_scenes_fill_up_to_the_last_order_and_no_further(as_role, world, db_session):
    episode = world.rows["episode"]
    factories.make_scene(db_session, episode_id=episode.id, order=MAX_SCENE_ORDER - 2)
    api = as_role("owner")
    two = make_suggestion(db_session, world, "scenes", {"scenes": [SCENE, SCENE]}, episode)
    three = make_suggestion(db_session, world, "scenes", {"scenes": [SCENE] * 3}, episode)
    before = counts(db_session)

    refused = api.post(f"/echo/suggestions/{three.id}/accept", json={})
    assert refused.status_code == 409, refused.get_json()
    assert "order" in refused.get_json()["fields"]
    assert counts(db_session) == before

    accepted = api.post(f"/echo/suggestions/{two.id}/accept", json={})
    assert accepted.status_code == 200, accepted.get_json()
    orders = [db_session.get(Scene, i).order for i in accepted.get_json()["scene_ids"]]
    assert orders == [MAX_SCENE_ORDER - 1, MAX_SCENE_ORDER]
