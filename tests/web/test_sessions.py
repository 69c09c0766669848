"""Sessions end when they should: at logout (a copied cookie cannot be replayed), everywhere
at once on request or with a new password (which also revokes API tokens), and at the
cookie's absolute lifetime however often it is used."""

from __future__ import annotations

import time

from tests.web.conftest import PASSWORD, Api

NEW_PASSWORD = "a brand new password"


def session_login(client, email: str, password: str = PASSWORD) -> str:
    """Log a test client in with the session cookie; returns the CSRF token."""
    response = client.post(
        "/auth/login", json={"email": email, "password": password, "session": True}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["csrf_token"]


def bearer_login(client, email: str, password: str = PASSWORD) -> Api:
    """An Api with a freshly issued access token."""
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return Api(client, response.get_json()["access_token"])


def test_a_logged_out_cookie_cannot_be_replayed(client, world):
    csrf = session_login(client, world.users["owner"].email)
    copied = client.get_cookie("session").value
    assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.set_cookie("session", copied)  # whoever copied the cookie sends it again
    assert client.get("/auth/me").status_code == 401
    write = client.post(
        "/api/anime/projects", json={"name": "after logout"}, headers={"X-CSRF-Token": csrf}
    )
    assert write.status_code == 401


def test_logout_everywhere_ends_every_token_and_cookie_but_api_tokens(app, world):
    email = world.users["owner"].email
    laptop, phone, script = app.test_client(), app.test_client(), app.test_client()
    session_login(laptop, email)
    cli = bearer_login(phone, email)
    api_token = cli.post("/auth/tokens", json={"name": "ci"}).get_json()["token"]
    other = bearer_login(script, world.users["other"].email)
    assert cli.post("/auth/logout-all").status_code == 204
    assert laptop.get("/auth/me").status_code == 401
    assert cli.get("/auth/me").status_code == 401
    assert Api(script, api_token).get("/auth/me").status_code == 200
    assert other.get("/auth/me").status_code == 200  # another account is untouched
    assert bearer_login(app.test_client(), email).get("/auth/me").status_code == 200


def test_a_new_password_ends_sessions_tokens_and_api_tokens(app, world):
    owner = world.users["owner"]
    laptop, phone = app.test_client(), app.test_client()
    csrf = session_login(laptop, owner.email)
    cli = bearer_login(phone, owner.email)
    api_token = cli.post("/auth/tokens", json={"name": "ci"}).get_json()["token"]
    admin = Api(app.test_client(), world.tokens["admin"])
    changed = admin.patch(f"/api/users/{owner.id}", json={"password": NEW_PASSWORD})
    assert changed.status_code == 200
    assert laptop.get("/auth/me").status_code == 401
    assert (
        laptop.post(
            "/api/anime/projects", json={"name": "x"}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 401
    )
    assert cli.get("/auth/me").status_code == 401
    assert Api(phone, api_token).get("/auth/me").status_code == 401
    assert (
        bearer_login(app.test_client(), owner.email, NEW_PASSWORD).get("/auth/me").status_code
        == 200
    )


def test_a_cookie_ends_at_its_absolute_lifetime_however_often_used(app, client, world):
    session_login(client, world.users["owner"].email)
    assert client.get("/auth/me").status_code == 200
    max_age = int(app.config.get("TOWER_SESSION_MAX_AGE_S", 12 * 3600))
    with client.session_transaction() as cookie:
        cookie["login_at"] = int(time.time()) - max_age - 1
    assert client.get("/auth/me").status_code == 401
    assert client.get("/dashboard/").status_code == 302
