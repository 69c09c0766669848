"""Every error path answers {"error", "message", "fields"} with the right status."""

from __future__ import annotations

import base64
import json
from datetime import timedelta, timezone

import psycopg2
import pytest
import sqlalchemy as sa

from shared.models import Job, Project


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "message", "fields"}
    assert isinstance(body["fields"], dict) and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert "SELECT" not in response.get_data(as_text=True)
    if code:
        assert body["error"] == code
    return body


def test_body_that_is_not_json_is_400(as_role):
    api = as_role("owner")
    assert_error(
        api.request(
            "POST",
            "/api/anime/projects",
            data="name=x",
            content_type="application/x-www-form-urlencoded",
        ),
        400,
    )
    assert_error(
        api.request(
            "POST", "/api/anime/projects", data="{not json", content_type="application/json"
        ),
        400,
    )


def test_unknown_fields_and_bad_values_are_422_with_fields(as_role, world, db_session):
    api = as_role("owner")
    before = db_session.query(Project).count()
    body = assert_error(
        api.post("/api/anime/projects", json={"name": "x", "colour": "red"}),
        422,
        "validation_error",
    )
    assert "colour" in body["fields"]
    body = assert_error(api.post("/api/anime/projects", json={}), 422)
    assert "name" in body["fields"]
    assert db_session.query(Project).count() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/anime/episodes/{episode}/scenes",
            {"order": 9, "prompt": "x" * 2001, "duration_s": 2},
            "prompt",
        ),
        (
            "/api/anime/episodes/{episode}/scenes",
            {"order": 9, "prompt": "p", "duration_s": 600},
            "duration_s",
        ),
        (
            "/api/anime/episodes/{episode}/scenes",
            {"order": 9, "prompt": "bad\x00byte", "duration_s": 2},
            "prompt",
        ),
        (
            "/api/anime/projects/{project}/generate",
            {"kind": "scene", "scene_ids": [1], "options": {"frames": 65}},
            "options.frames",
        ),
        (
            "/api/anime/projects/{project}/generate",
            {"kind": "scene", "scene_ids": [1], "options": {"width": 4096}},
            "options.width",
        ),
        (
            "/api/anime/projects/{project}/generate",
            {"kind": "scene", "scene_ids": [1], "options": {"width": 500}},
            "options.width",
        ),
        (
            "/api/anime/projects/{project}/generate",
            {"kind": "scene", "scene_ids": list(range(1, 102))},
            "scene_ids",
        ),
        ("/api/anime/projects/{project}/generate", {"kind": "movie"}, "kind"),
        ("/generate/integrated", {"brief": "b", "scenes": 50}, "scenes"),
    ],
)
def test_limits(as_role, world, path, body, field):
    ids = {k: v.id for k, v in world.rows.items()}
    response = as_role("owner").post(path.format(**ids), json=body)
    assert field in assert_error(response, 422)["fields"]


def test_oversized_body_is_413(as_role):
    response = as_role("owner").post(
        "/api/anime/projects", json={"name": "x", "description": "d" * (3 * 1024 * 1024)}
    )
    assert_error(response, 413)


def test_missing_rows_routes_and_methods(as_role):
    api = as_role("owner")
    assert_error(api.get("/api/anime/projects/999999999"), 404, "not_found")
    assert_error(api.get("/api/anime/projects/99999999999999999999999"), 404)
    assert_error(api.get("/no/such/route"), 404)
    assert_error(api.request("PUT", "/api/anime/projects"), 405)


def test_conflicts_are_409(as_role, world):
    api = as_role("owner")
    project = world.rows["project"].id
    body = assert_error(
        api.post(f"/api/anime/projects/{project}/episodes", json={"number": 1, "title": "Again"}),
        409,
        "conflict",
    )
    assert "number" in body["fields"]
    name = world.rows["character"].name
    assert_error(api.post(f"/api/anime/projects/{project}/characters", json={"name": name}), 409)


def test_planner_rejections_change_nothing(as_role, world, db_session):
    from shared.models import Job

    before = db_session.query(Job).count()
    response = as_role("owner").post(
        f"/api/anime/projects/{world.rows['project'].id}/generate",
        json={"kind": "episode", "episode_id": world.rows["public_episode"].id},
    )
    assert_error(response, 404)
    assert db_session.query(Job).count() == before


def test_malformed_cursor_is_422(as_role):
    body = assert_error(as_role("owner").get("/api/anime/jobs?cursor=%%%"), 422)
    assert "cursor" in body["fields"]


def test_timestamps_with_any_iso_offset_are_read_in_utc(as_role, world):
    # Postgres refuses offsets past 15:59 that ISO 8601 allows: these were a 422 naming no field.
    api = as_role("owner")
    job = world.rows["job"]
    before = (job.created_at - timedelta(hours=1)).astimezone(timezone(timedelta(hours=-23)))
    after = (job.created_at + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-23)))
    found = api.get("/api/anime/jobs", query_string={"created_after": before.isoformat()})
    assert [j["id"] for j in found.get_json()["items"]] == [job.id], found.get_json()
    none = api.get("/api/anime/jobs", query_string={"created_after": after.isoformat()})
    assert none.get_json()["items"] == [], none.get_json()
    cursor = base64.urlsafe_b64encode(json.dumps([after.isoformat(), 2**62]).encode()).decode()
    paged = api.get("/api/anime/jobs", query_string={"cursor": cursor})
    assert [j["id"] for j in paged.get_json()["items"]] == [job.id], paged.get_json()


def test_timestamps_out_of_range_in_utc_name_their_field(as_role):
    api = as_role("owner")
    moment = "0001-01-01T00:00:00+05:00"
    body = assert_error(api.get("/api/anime/jobs", query_string={"created_before": moment}), 422)
    assert "created_before" in body["fields"]
    cursor = base64.urlsafe_b64encode(json.dumps([moment, 1]).encode()).decode()
    body = assert_error(api.get("/api/anime/jobs", query_string={"cursor": cursor}), 422)
    assert "cursor" in body["fields"]


def test_bad_query_values_are_422(as_role):
    assert_error(as_role("owner").get("/api/anime/jobs?status=bogus&limit=0"), 422)
    assert_error(as_role("owner").get("/api/anime/jobs?unknown=1"), 422)


@pytest.mark.parametrize("depth", [5000, 65])
def test_deeply_nested_json_is_400_not_500(as_role, world, db_session, depth):
    before = db_session.query(Project).count()
    api = as_role("owner")
    bare = "[" * depth + "]" * depth
    body = assert_error(
        api.request("POST", "/api/anime/projects", data=bare, content_type="application/json"),
        400,
        "bad_request",
    )
    assert "nested" in body["message"]
    inside = '{"name": "deep", "description": ' + bare + "}"
    assert_error(
        api.request("POST", "/api/anime/projects", data=inside, content_type="application/json"),
        400,
    )
    assert db_session.query(Project).count() == before


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_or_infinity_in_free_form_json_is_422_naming_the_field(
    as_role, world, db_session, number
):
    # Python's parser reads these, and free-form objects (extra_data, per-stage parameters,
    # workflow graphs) passed them on: Postgres refused the job's jsonb and the answer was a
    # 422 naming no field.
    before = db_session.query(Job).count()
    scene = world.rows["scene"].id
    options = {"extra_data": {"keyframe": {"client_hint": "NUMBER"}}}
    body = {"kind": "image", "scene_ids": [scene], "options": options}
    raw = json.dumps(body).replace('"NUMBER"', number)  # a bare NaN, as a client may send
    response = as_role("owner").request(
        "POST",
        f"/api/anime/projects/{world.rows['project'].id}/generate",
        data=raw,
        content_type="application/json",
    )
    body = assert_error(response, 422, "validation_error")
    assert any(name.startswith("options.extra_data.keyframe") for name in body["fields"]), body
    assert "NaN or Infinity" in " ".join(body["fields"].values())
    assert db_session.query(Job).count() == before


def test_json_nested_within_the_limit_reaches_the_schema(as_role):
    nested = {"a": None}
    for _ in range(40):
        nested = {"a": nested}
    response = as_role("owner").post("/api/anime/projects", json={"name": "x", "extra": nested})
    assert_error(response, 422, "validation_error")


def test_a_lost_database_connection_is_503_with_retry_after(as_role, world, monkeypatch):
    """Postgres restarting (or a pooled connection it dropped) is a moment's outage, not a
    server error: the client is told to retry."""

    def lost(*_args, **_kwargs):
        dropped = psycopg2.OperationalError("server closed the connection unexpectedly")
        raise sa.exc.OperationalError("SELECT 1", {}, dropped)

    monkeypatch.setattr("web.routes.generation.status_response", lost)
    response = as_role("owner").get(f"/api/anime/generation/{world.rows['job'].id}/status")
    assert_error(response, 503)
    assert int(response.headers["Retry-After"]) > 0
