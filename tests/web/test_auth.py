"""Login, token lifetimes and tampering, revocation, API tokens, session cookies and CSRF."""

from __future__ import annotations

import base64
import json

import jwt

from tests.web.conftest import PASSWORD, Api
from web.credentials import issue_access_token, signing_key


def login(client, email: str, password: str = PASSWORD, **extra):
    return client.post("/auth/login", json={"email": email, "password": password, **extra})


def test_login_returns_a_bearer_token_that_works(client, world):
    response = login(client, world.users["owner"].email.upper())
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer" and body["role"] == "user"
    assert 0 < body["expires_in"] <= 3600
    me = Api(client, body["access_token"]).get("/auth/me").get_json()
    assert me["id"] == world.users["owner"].id and "password_hash" not in me


def test_wrong_password_and_unknown_email_look_the_same(client, world):
    wrong = login(client, world.users["owner"].email, "not the password")
    unknown = login(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["message"] == unknown.get_json()["message"]


def test_login_attempts_are_rate_limited(app, client, world):
    app.config["TOWER_LOGIN_EMAIL_LIMIT"] = 3
    try:
        codes = [login(client, world.users["owner"].email, "bad").status_code for _ in range(4)]
        blocked = login(client, world.users["owner"].email)
    finally:
        app.config["TOWER_LOGIN_EMAIL_LIMIT"] = 10
    assert codes == [401, 401, 401, 429]
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert blocked.get_json()["error"] == "rate_limited"


def test_expired_token_is_rejected(app, client, world):
    token, _ = issue_access_token(app.config["SECRET_KEY"], world.users["owner"].id, "user", -5)
    response = Api(client, token).get("/auth/me")
    assert response.status_code == 401
    assert "expired" in response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_tampered_tokens_are_rejected(app, client, world):
    good = world.tokens["owner"]
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(world.users["admin"].id)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    unsigned = jwt.encode(claims, None, algorithm="none")
    other_key = jwt.encode(
        {**claims, "exp": claims["exp"]}, "another-secret-key-of-32-bytes!!", algorithm="HS256"
    )
    for token in (
        f"{header}.{forged}.{signature}",
        f"{header}.{payload}.{flipped}",
        unsigned,
        other_key,
        "garbage",
        good + "x",
    ):
        response = Api(client, token).get("/api/users")
        assert response.status_code == 401, token
        assert response.get_json()["error"] == "unauthorized"


def test_token_for_a_missing_signature_key_field_is_rejected(app, client, world):
    token = jwt.encode(
        {"sub": str(world.users["owner"].id), "aud": "tower-api"},
        signing_key(app.config["SECRET_KEY"]),
        algorithm="HS256",
    )
    assert Api(client, token).get("/auth/me").status_code == 401


def test_logout_revokes_the_token(client, world):
    api = Api(client, world.tokens["owner"])
    assert api.post("/auth/logout").status_code == 204
    response = api.get("/auth/me")
    assert response.status_code == 401 and "revoked" in response.get_json()["message"]


def test_deactivated_and_demoted_accounts_take_effect_at_once(client, world):
    admin = Api(client, world.tokens["admin"])
    operator = Api(client, world.tokens["operator"])
    assert operator.get(f"/api/anime/generation/{world.rows['job'].id}/status").status_code == 200
    response = admin.patch(f"/api/users/{world.users['operator'].id}", json={"role": "user"})
    assert response.status_code == 200
    assert operator.get(f"/api/anime/generation/{world.rows['job'].id}/status").status_code == 404
    admin.patch(f"/api/users/{world.users['operator'].id}", json={"is_active": False})
    assert operator.get("/auth/me").status_code == 401


def test_api_tokens_work_until_revoked_and_only_their_hash_is_stored(client, world, db_session):
    from shared.models import ApiToken

    owner = Api(client, world.tokens["owner"])
    created = owner.post("/auth/tokens", json={"name": "render script", "expires_in_days": 30})
    assert created.status_code == 201
    secret = created.get_json()["token"]
    row = db_session.get(ApiToken, created.get_json()["id"])
    assert secret not in (row.token_hash, row.name)
    script = Api(client, secret)
    assert script.get("/auth/me").get_json()["id"] == world.users["owner"].id
    listed = owner.get("/auth/tokens").get_json()
    assert [t["name"] for t in listed] == ["render script"] and "token" not in listed[0]
    assert Api(client, world.tokens["other"]).delete(f"/auth/tokens/{row.id}").status_code == 404
    assert owner.delete(f"/auth/tokens/{row.id}").get_json()["revoked_at"]
    assert script.get("/auth/me").status_code == 401


def test_session_cookie_login_needs_csrf_for_writes(client, world):
    body = login(client, world.users["owner"].email, session=True).get_json()
    assert body["csrf_token"]
    assert client.get("/auth/me").status_code == 200
    refused = client.post("/api/anime/projects", json={"name": "cookie"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.get_json()["message"]
    wrong = client.post(
        "/api/anime/projects", json={"name": "cookie"}, headers={"X-CSRF-Token": "nope"}
    )
    assert wrong.status_code == 403
    accepted = client.post(
        "/api/anime/projects", json={"name": "cookie"}, headers={"X-CSRF-Token": body["csrf_token"]}
    )
    assert accepted.status_code == 201
    client.post("/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert client.get("/auth/me").status_code == 401


def test_non_bearer_schemes_are_rejected(client, world):
    response = client.get("/auth/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401


def test_cli_creates_users_from_stdin(app, db_session):
    from web.accounts import find_user

    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "cli.person@example.com", "--role", "operator"],
        input="a long password\n",
    )
    assert result.exit_code == 0, result.output
    assert find_user("cli.person@example.com").role == "operator"
    again = runner.invoke(
        args=["users", "create", "cli.person@example.com"], input="a long password\n"
    )
    assert again.exit_code == 1
    assert "already exists" in again.output and "Traceback" not in again.output
    short = runner.invoke(args=["users", "create", "x@example.com"], input="short\n")
    assert short.exit_code == 1 and len(short.output.strip().splitlines()) == 1


def test_a_successful_login_resets_the_emails_attempts(app, client, world):
    app.config["TOWER_LOGIN_EMAIL_LIMIT"] = 2
    try:
        email = world.users["owner"].email
        codes = [
            login(client, email, "bad").status_code,
            login(client, email).status_code,
            login(client, email, "bad").status_code,
            login(client, email).status_code,
        ]
    finally:
        app.config["TOWER_LOGIN_EMAIL_LIMIT"] = 10
    assert codes == [401, 200, 401, 200]


def test_unreachable_token_store_is_503_not_500(app, client, world):
    import redis

    from web.throttle import client as redis_client

    original = app.extensions["tower_redis"]
    app.extensions["tower_redis"] = redis.Redis(
        host="127.0.0.1", port=9, socket_connect_timeout=0.5
    )
    try:
        response = Api(client, world.tokens["owner"]).get("/auth/me")
    finally:
        app.extensions["tower_redis"] = original
    assert response.status_code == 503 and response.get_json()["error"] == "transient_error"
    with app.app_context():
        assert redis_client() is original
