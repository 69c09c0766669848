"""Login, token lifetimes and tampering, revocation, API tokens, session cookies and CSRF."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from tests.support.settings import farm_setting
from tests.web.conftest import PASSWORD, Api
from web.credentials import issue_access_token, signing_key

OLD_BUILT_IN_KEY = "dev-insecure-secret-key"


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


def test_a_client_that_keeps_failing_is_slowed_down(app, client, world):
    with farm_setting(app, "login_free_failures", 3):
        codes = [login(client, world.users["owner"].email, "bad").status_code for _ in range(5)]
        blocked = login(client, world.users["owner"].email)
    # Three free failures, a fourth attempt that claims the wait, then the wait.
    assert codes == [401, 401, 401, 401, 429]
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
    with farm_setting(app, "login_free_failures", 2):
        email = world.users["owner"].email
        codes = [
            login(client, email, "bad").status_code,
            login(client, email).status_code,
            login(client, email, "bad").status_code,
            login(client, email).status_code,
        ]
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


def test_tokens_and_cookies_signed_with_the_old_built_in_key_are_refused(client, world):
    admin = world.users["admin"]
    now = int(time.time())
    claims = {
        "sub": str(admin.id),
        "role": "admin",
        "aud": "tower-api",
        "iat": now,
        "nbf": now,
        "exp": now + 31 * 365 * 86400,
        "jti": "forged",
        "sv": 0,
    }
    forged = jwt.encode(claims, signing_key(OLD_BUILT_IN_KEY), algorithm="HS256")
    assert Api(client, forged).get("/api/users").status_code == 401
    forger = Flask("forger")
    forger.secret_key = OLD_BUILT_IN_KEY
    cookie = (
        SecureCookieSessionInterface()
        .get_signing_serializer(forger)
        .dumps({"user_id": admin.id, "csrf": "c", "sid": "s", "sv": 0, "login_at": now})
    )
    client.set_cookie("session", cookie)
    assert client.get("/api/users").status_code == 401
    assert client.get("/dashboard/").status_code == 302


def test_a_token_living_longer_than_the_farm_issues_them_is_refused(app, client, world):
    owner, ttl = world.users["owner"], int(app.config["TOWER_JWT_TTL_S"])
    secret = app.config["SECRET_KEY"]
    longer, _ = issue_access_token(secret, owner.id, "user", ttl + 60)
    assert Api(client, longer).get("/auth/me").status_code == 401
    usual, _ = issue_access_token(secret, owner.id, "user", ttl)
    assert Api(client, usual).get("/auth/me").status_code == 200


def created_token(api: Api, **body) -> dict:
    response = api.post("/auth/tokens", json={"name": "script", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def lifetime(token: dict) -> timedelta:
    return datetime.fromisoformat(token["expires_at"]) - datetime.now(UTC)


def test_api_tokens_never_live_longer_than_their_roles_cap(app, as_role, world):
    guest, owner = as_role("guest"), as_role("owner")
    guest_token, owner_token = created_token(guest), created_token(owner)
    assert guest_token["expires_at"] and owner_token["expires_at"]  # none lives for ever
    guest_days = app.config["TOWER_GUEST_API_TOKEN_MAX_DAYS"]
    member_days = app.config["TOWER_API_TOKEN_MAX_DAYS"]
    assert guest_days < member_days
    assert timedelta(days=guest_days - 1) < lifetime(guest_token) <= timedelta(days=guest_days)
    assert lifetime(owner_token) <= timedelta(days=member_days)
    assert lifetime(created_token(owner, expires_in_days=3)) <= timedelta(days=3)
    for api, days in ((guest, guest_days + 1), (owner, member_days + 1)):
        refused = api.post("/auth/tokens", json={"name": "forever", "expires_in_days": days})
        assert refused.status_code == 422 and "expires_in_days" in refused.get_json()["fields"]


def test_an_api_token_older_than_its_roles_cap_stops_working(client, world, db_session):
    from shared.models import ApiToken

    secret = created_token(Api(client, world.tokens["guest"]))["token"]
    row = db_session.query(ApiToken).filter_by(user_id=world.users["guest"].id).one()
    # A token made long before the cap, with no expiry of its own.
    row.expires_at = None
    row.created_at = datetime.now(UTC) - timedelta(days=3651)
    db_session.commit()
    response = Api(client, secret).get("/auth/me")
    assert response.status_code == 401 and "expired" in response.get_json()["message"]
