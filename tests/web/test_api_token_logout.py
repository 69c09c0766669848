"""Logging out with an API token revokes it, so `tower logout` leaves nothing usable behind."""

from __future__ import annotations

from tests.web.conftest import Api


def test_logout_with_an_api_token_revokes_it_and_only_it(client, world):
    owner = Api(client, world.tokens["owner"])
    first = owner.post("/auth/tokens", json={"name": "cli"}).json
    second = owner.post("/auth/tokens", json={"name": "script"}).json
    cli = Api(client, first["token"])
    assert cli.get("/auth/me").status_code == 200
    assert cli.post("/auth/logout").status_code == 204
    refused = cli.get("/auth/me")
    assert refused.status_code == 401 and "revoked" in refused.json["message"]
    listed = {t["id"]: t["revoked_at"] for t in owner.get("/auth/tokens").json}
    assert listed[first["id"]] is not None and listed[second["id"]] is None
    assert Api(client, second["token"]).get("/auth/me").status_code == 200
