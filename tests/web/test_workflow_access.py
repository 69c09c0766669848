"""Uploaded workflows over the API: users see the built-ins and their own, staff everything;
versions per name and graph size are capped; graphs reading outside Tower's input folder are
refused with the node and input named."""

from __future__ import annotations

from tests.web.test_roles import upload_body
from web import registry
from workers.workflows import default_templates


def names_seen(api) -> set[str]:
    response = api.get("/api/anime/workflows")
    assert response.status_code == 200, response.get_json()
    return {w["name"] for w in response.get_json()}


def test_users_see_builtins_and_their_own_staff_see_all(as_role, world):
    mine = as_role("owner").post("/api/anime/workflows", json=upload_body("owner-private"))
    assert mine.status_code == 201, mine.get_json()
    workflow_id = mine.get_json()["id"]

    assert {"keyframe", "owner-private"} <= names_seen(as_role("owner"))
    for role in ("other", "guest"):
        assert "keyframe" in names_seen(as_role(role))
        assert "owner-private" not in names_seen(as_role(role))
        response = as_role(role).get(f"/api/anime/workflows/{workflow_id}")
        assert response.status_code == 404, response.get_json()
        assert "graph" not in response.get_json()
    for role in ("operator", "admin"):
        assert "owner-private" in names_seen(as_role(role))
        assert as_role(role).get(f"/api/anime/workflows/{workflow_id}").status_code == 200
    refused = as_role("other").post(f"/api/anime/workflows/{workflow_id}/activate")
    assert refused.status_code == 404


def test_versions_per_workflow_are_capped(as_role, world, monkeypatch):
    monkeypatch.setattr(registry, "MAX_VERSIONS", 3)
    api = as_role("owner")
    codes = [
        api.post("/api/anime/workflows", json=upload_body("many-versions")).status_code
        for _ in range(4)
    ]
    assert codes == [201, 201, 201, 409]
    body = api.post("/api/anime/workflows", json=upload_body("many-versions")).get_json()
    assert body["fields"] == {"name": "at most 3 versions"}


def test_an_oversized_graph_is_refused(as_role, world):
    body = upload_body("huge")
    body["graph"]["3"]["inputs"]["text"] = "x" * 300_000
    response = as_role("owner").post("/api/anime/workflows", json=body)
    assert response.status_code == 422, response.get_json()
    assert "graph" in response.get_json()["fields"]


def test_a_graph_reading_node_files_is_refused_naming_the_input(as_role, world):
    row = default_templates()["animate"].to_row()
    row["graph"]["10"]["inputs"]["image"] = "/etc/hostname"
    bindings = {k: v for k, v in row["bindings"].items() if k != "image"}
    response = as_role("owner").post(
        "/api/anime/workflows",
        json={"name": "reader", "stage": "animate", "graph": row["graph"],
              "bindings": bindings, "outputs": row["outputs"]},
    )  # fmt: skip
    assert response.status_code == 422, response.get_json()
    assert "tower/" in response.get_json()["fields"]["10.image"]
