"""First checks that the app serves the basics."""

from __future__ import annotations


def test_openapi_document_lists_the_contract_paths(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/anime/projects",
        "/api/anime/generation/{request_id}/status",
        "/auth/login",
        "/generate/integrated",
        "/echo/enhance-prompt",
        "/health",
    ):
        assert path in spec["paths"]


def test_owner_reads_own_project(as_role, world):
    response = as_role("owner").get(f"/api/anime/projects/{world.rows['project'].id}")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == world.rows["project"].name
