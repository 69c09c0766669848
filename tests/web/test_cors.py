"""CORS from the cors_origins setting: listed origins get answered preflights and credentialed
responses; every other origin gets no CORS header."""

from __future__ import annotations

import pytest

from tests.support.settings import farm_setting

LISTED = "https://studio.example"
UNLISTED = "https://evil.example"


@pytest.fixture
def origins(app):
    with farm_setting(app, "cors_origins", [LISTED, "http://127.0.0.1:3000"]):
        yield


def preflight(client, origin: str, method: str = "POST"):
    return client.options(
        "/api/anime/projects",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_a_preflight_from_a_listed_origin_is_answered_with_credentials(app, origins):
    response = preflight(app.test_client(), LISTED)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == LISTED
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "Origin" in response.headers["Vary"]


def test_a_preflight_from_an_unlisted_origin_gets_no_cors_headers(app, origins):
    response = preflight(app.test_client(), UNLISTED)
    assert response.status_code == 403
    assert not [h for h in response.headers.keys() if h.startswith("Access-Control-")]
    assert set(response.get_json()) == {"error", "message", "fields"}


def test_responses_name_only_a_listed_origin(app, origins, world, as_role):
    api = as_role("owner")
    listed = api.get("/api/anime/projects", headers={"Origin": LISTED})
    unlisted = api.get("/api/anime/projects", headers={"Origin": UNLISTED})
    assert listed.status_code == unlisted.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == LISTED
    assert listed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Retry-After" in listed.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in unlisted.headers
    assert "Access-Control-Allow-Credentials" not in unlisted.headers
    assert "Origin" in unlisted.headers["Vary"]
    # Errors too: a browser must be able to read why its call failed.
    refused = as_role(None).post("/api/anime/projects", json={}, headers={"Origin": LISTED})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == LISTED


def test_with_no_origins_listed_no_browser_origin_is_let_in(app):
    response = preflight(app.test_client(), LISTED)
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response.headers
    plain = app.test_client().get("/health")
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_a_new_origin_is_let_in_as_soon_as_the_setting_lists_it(app):
    client = app.test_client()
    assert preflight(client, UNLISTED).status_code == 403
    with farm_setting(app, "cors_origins", [UNLISTED]):
        assert preflight(client, UNLISTED).status_code == 204
        assert preflight(client, LISTED).status_code == 403
    assert preflight(client, UNLISTED).status_code == 403
