"""The role matrix: every endpoint, as anonymous, guest, owner, another user, operator, admin.

A private project belongs to `owner`; a public demo project belongs to `admin`. Expected codes
cover roles (401/403) and ownership (404 for rows another user cannot see).
"""

from __future__ import annotations

import importlib.util

import pytest

from tests import factories
from tests.support.settings import farm_setting
from workers.workflows import default_templates

ROLES = ("anon", "guest", "owner", "other", "operator", "admin")
PIPELINE = importlib.util.find_spec("tasks.pipelines") is not None
CONTROL = importlib.util.find_spec("tasks.pipeline.control") is not None


def upload_body(name: str) -> dict:
    """A valid workflow upload (the built-in keyframe template under a new name)."""
    row = default_templates()["keyframe"].to_row()
    return {
        "name": name,
        "stage": "keyframe",
        "graph": row["graph"],
        "bindings": row["bindings"],
        "outputs": row["outputs"],
    }


READ = (401, 404, 200, 404, 200, 200)  # a private project's rows
READ_ALL = (401, 200, 200, 200, 200, 200)  # any authenticated caller
# Reads open to callers without an account (public read): a private project's rows, a public one's
PUBLIC_READ = (404, 404, 200, 404, 200, 200)
ANYONE = (200, 200, 200, 200, 200, 200)
NO_FINAL_YET = (404, 404, 404, 404, 404, 404)
WRITE = (401, 403, 200, 404, 403, 200)  # owner and admins change; operators read only
CREATE = (401, 403, 201, 404, 403, 201)
DELETE = (401, 403, 204, 404, 403, 204)
ADMIN_ONLY = (401, 403, 403, 403, 403, 200)
RENDER_PRIVATE = (401, 404, 202, 404, 403, 202)
CONTROL_JOB = (401, 404, 202, 404, 202, 202)
STAFF = (401, 403, 403, 403, 200, 200)
STAFF_ACT_ON_NOTHING = (401, 403, 403, 403, 404, 404)
STAFF_ACT_ON_FORM = (401, 403, 403, 403, 422, 422)
NO_ENTRY = "/api/anime/library/entries/{no_entry}"
ECHO_ASK = (401, 403, 503, 404, 503, 503)
NOTHING = (401, 404, 404, 404, 404, 404)

# (id, method, path, body, expected per ROLES, needs the pipeline for a 2xx)
CASES = [
    ("models", "GET", "/api/anime/models", None, READ_ALL, None),
    ("fleet-node", "GET", "/api/fleet/nodes/{no_node}", None, STAFF_ACT_ON_NOTHING, None),
    ("library-moods", "GET", "/api/anime/library/moods", None, READ_ALL, None),
    ("library-sounds", "GET", "/api/anime/library/sounds", None, READ_ALL, None),
    ("library-entries", "GET", "/api/anime/library/entries", None, READ_ALL, None),
    ("library-entry", "GET", NO_ENTRY, None, (401, 404, 404, 404, 404, 404), None),
    # Without a form: the staff get as far as the missing fields.
    ("library-upload", "POST", "/api/anime/library/entries", None, STAFF_ACT_ON_FORM, None),
    ("library-replace", "PUT", NO_ENTRY, None, STAFF_ACT_ON_NOTHING, None),
    ("library-delete", "DELETE", NO_ENTRY, None, STAFF_ACT_ON_NOTHING, None),
    ("fleet-nodes", "GET", "/api/fleet/nodes", None, STAFF, None),
    ("fleet-queues", "GET", "/api/fleet/queues", None, STAFF, None),
    ("fleet-drain", "POST", "/api/fleet/nodes/{no_node}/drain", None, STAFF_ACT_ON_NOTHING, None),
    (
        "fleet-clear-missing",
        "POST",
        "/api/fleet/nodes/{no_node}/clear-missing",
        None,
        STAFF_ACT_ON_NOTHING,
        None,
    ),
    (
        "fleet-undrain",
        "POST",
        "/api/fleet/nodes/{no_node}/undrain",
        None,
        STAFF_ACT_ON_NOTHING,
        None,
    ),
    ("fleet-remove", "DELETE", "/api/fleet/nodes/{no_node}", None, STAFF_ACT_ON_NOTHING, None),
    ("metrics", "GET", "/metrics", None, STAFF, None),
    ("settings-list", "GET", "/api/settings", None, ADMIN_ONLY, None),
    ("settings-audit", "GET", "/api/settings/audit", None, ADMIN_ONLY, None),
    ("setting-get", "GET", "/api/settings/{setting}", None, ADMIN_ONLY, None),
    ("setting-put", "PUT", "/api/settings/{setting}", {"value": 6}, ADMIN_ONLY, None),
    ("setting-patch", "PATCH", "/api/settings/{setting}", {"value": 6}, ADMIN_ONLY, None),
    ("setting-reset", "DELETE", "/api/settings/{setting}", None, ADMIN_ONLY, None),
    ("projects-list", "GET", "/api/anime/projects", None, ANYONE, None),
    (
        "projects-create",
        "POST",
        "/api/anime/projects",
        {"name": "New"},
        (401, 403, 201, 201, 201, 201),
        None,
    ),
    ("project-get", "GET", "/api/anime/projects/{project}", None, PUBLIC_READ, None),
    ("project-get-public", "GET", "/api/anime/projects/{public}", None, ANYONE, None),
    ("project-patch", "PATCH", "/api/anime/projects/{project}", {"style": "ink"}, WRITE, None),
    ("project-delete", "DELETE", "/api/anime/projects/{project}", None, DELETE, None),
    (
        "public-patch",
        "PATCH",
        "/api/anime/projects/{public}",
        {"style": "ink"},
        (401, 403, 403, 403, 403, 200),
        None,
    ),
    ("characters-list", "GET", "/api/anime/projects/{project}/characters", None, READ, None),
    (
        "characters-create",
        "POST",
        "/api/anime/projects/{project}/characters",
        {"name": "Mika", "trigger_words": "mika"},
        CREATE,
        None,
    ),
    ("character-get", "GET", "/api/anime/characters/{character}", None, READ, None),
    (
        "character-patch",
        "PATCH",
        "/api/anime/characters/{character}",
        {"lora_strength": 0.6},
        WRITE,
        None,
    ),
    ("character-delete", "DELETE", "/api/anime/characters/{character}", None, DELETE, None),
    ("episodes-list", "GET", "/api/anime/projects/{project}/episodes", None, PUBLIC_READ, None),
    ("episodes-list-public", "GET", "/api/anime/projects/{public}/episodes", None, ANYONE, None),
    (
        "episodes-create",
        "POST",
        "/api/anime/projects/{project}/episodes",
        {"number": 2, "title": "Two"},
        CREATE,
        None,
    ),
    ("episode-get", "GET", "/api/anime/episodes/{episode}", None, PUBLIC_READ, None),
    ("final", "GET", "/api/anime/episodes/{public_episode}/final", None, NO_FINAL_YET, None),
    ("episode-patch", "PATCH", "/api/anime/episodes/{episode}", {"title": "Retitled"}, WRITE, None),
    ("episode-delete", "DELETE", "/api/anime/episodes/{episode}", None, DELETE, None),
    ("scenes-list", "GET", "/api/anime/episodes/{episode}/scenes", None, PUBLIC_READ, None),
    (
        "scenes-create",
        "POST",
        "/api/anime/episodes/{episode}/scenes",
        {"order": 5, "prompt": "rain on a window", "duration_s": 1.5},
        CREATE,
        None,
    ),
    (
        "scenes-reorder",
        "POST",
        "/api/anime/episodes/{episode}/scenes/reorder",
        {"scene_ids": ["{scene}"]},
        WRITE,
        None,
    ),
    ("scene-get", "GET", "/api/anime/scenes/{scene}", None, PUBLIC_READ, None),
    ("scene-patch", "PATCH", "/api/anime/scenes/{scene}", {"mood": "tense"}, WRITE, None),
    ("scene-delete", "DELETE", "/api/anime/scenes/{scene}", None, DELETE, None),
    (
        "project-generate",
        "POST",
        "/api/anime/projects/{project}/generate",
        {"kind": "image", "scene_ids": ["{scene}"]},
        RENDER_PRIVATE,
        "pipeline",
    ),
    (
        "public-generate-image",
        "POST",
        "/api/anime/projects/{public}/generate",
        {"kind": "image", "scene_ids": ["{public_scene}"]},
        (401, 202, 403, 403, 403, 202),
        "pipeline",
    ),
    (
        "public-generate-episode",
        "POST",
        "/api/anime/projects/{public}/generate",
        {"kind": "episode", "episode_id": "{public_episode}"},
        (401, 403, 403, 403, 403, 202),
        "pipeline",
    ),
    (
        "scene-generate",
        "POST",
        "/api/anime/scenes/{scene}/generate",
        {"kind": "image"},
        RENDER_PRIVATE,
        "pipeline",
    ),
    (
        # The world's job failed: a retake is refused (retry it or submit again).
        "scene-retake",
        "POST",
        "/api/anime/scenes/{scene}/retake",
        {"seed": 7},
        (401, 404, 409, 404, 403, 409),
        None,
    ),
    (
        "production",
        "POST",
        "/api/anime/productions",
        {
            "project": {"name": "Matrix"},
            "episode": {"number": 1, "title": "One"},
            "scenes": [{"prompt": "a quiet street", "duration_s": 1}],
        },
        (401, 403, 201, 201, 201, 201),
        "pipeline",
    ),
    (
        "character-generate",
        "POST",
        "/api/anime/characters/{character}/generate",
        {},
        RENDER_PRIVATE,
        "pipeline",
    ),
    (
        "integrated",
        "POST",
        "/generate/integrated",
        {"brief": "A girl waits at a station."},
        (401, 403, 202, 202, 202, 202),
        "pipeline",
    ),
    (
        "professional",
        "POST",
        "/generate/professional",
        {
            "project_id": "{project}",
            "kind": "image",
            "scene_ids": ["{scene}"],
            "stages": {"keyframe": {"cfg": 6.5}},
        },
        RENDER_PRIVATE,
        "pipeline",
    ),
    ("status", "GET", "/api/anime/generation/{job}/status", None, READ, None),
    (
        "stream-token",
        "POST",
        "/api/anime/generation/{job}/stream-token",
        None,
        (401, 404, 201, 404, 201, 201),
        None,
    ),
    (
        "cancel-ended",
        "POST",
        "/api/anime/generation/{job}/cancel",
        None,
        (401, 404, 409, 404, 409, 409),
        None,
    ),
    ("retry", "POST", "/api/anime/generation/{job}/retry", {}, CONTROL_JOB, "pipeline"),
    ("jobs-list", "GET", "/api/anime/jobs", None, READ_ALL, None),
    ("asset-get", "GET", "/api/anime/assets/{asset}", None, READ, None),
    ("asset-content", "GET", "/api/anime/assets/{asset}/content", None, READ, None),
    ("workflows-list", "GET", "/api/anime/workflows", None, READ_ALL, None),
    # {workflow} is the owner's upload: other accounts do not see it.
    ("workflow-get", "GET", "/api/anime/workflows/{workflow}", None, READ, None),
    (
        "workflow-upload",
        "POST",
        "/api/anime/workflows",
        upload_body("matrix-keyframe"),
        (401, 403, 201, 201, 201, 201),
        None,
    ),
    (
        "workflow-activate",
        "POST",
        "/api/anime/workflows/{workflow}/activate",
        None,
        (401, 403, 200, 404, 200, 200),
        None,
    ),
    ("users-list", "GET", "/api/users", None, ADMIN_ONLY, None),
    (
        "users-create",
        "POST",
        "/api/users",
        {"email": "new.person@example.com", "password": "long enough pw", "role": "user"},
        (401, 403, 403, 403, 403, 201),
        None,
    ),
    ("user-patch", "PATCH", "/api/users/{other_id}", {"role": "operator"}, ADMIN_ONLY, None),
    (
        "login-wrong",
        "POST",
        "/auth/login",
        {"email": "nobody@example.com", "password": "nope"},
        (401,) * 6,
        None,
    ),
    ("me", "GET", "/auth/me", None, READ_ALL, None),
    ("tokens-list", "GET", "/auth/tokens", None, READ_ALL, None),
    ("tokens-create", "POST", "/auth/tokens", {"name": "ci"}, (401, 201, 201, 201, 201, 201), None),
    (
        "token-revoke",
        "DELETE",
        "/auth/tokens/{owner_token}",
        None,
        (401, 404, 200, 404, 404, 404),
        None,
    ),
    ("logout", "POST", "/auth/logout", None, (401, 204, 204, 204, 204, 204), None),
    ("logout-all", "POST", "/auth/logout-all", None, (401, 204, 204, 204, 204, 204), None),
    ("guest-status", "GET", "/api/anime/guest-status", None, (200,) * 6, None),
    ("health", "GET", "/health", None, (200,) * 6, None),
    ("live", "GET", "/health/live", None, (200,) * 6, None),
    (
        "enhance",
        "POST",
        "/echo/enhance-prompt",
        {
            "prompt": "a rooftop at night",
            "project_id": "{project}",
            "character_ids": ["{character}"],
        },
        READ,
        None,
    ),
    # Without an LLM configured, the generative features answer 503 to whoever may ask.
    ("echo-scenes", "POST", "/echo/episodes/{episode}/scenes", {}, ECHO_ASK, None),
    ("echo-dialogue", "POST", "/echo/scenes/{scene}/dialogue", {}, ECHO_ASK, None),
    ("echo-continue", "POST", "/echo/episodes/{episode}/continue", {}, ECHO_ASK, None),
    ("echo-brainstorm", "POST", "/echo/projects/{project}/brainstorm", {}, ECHO_ASK, None),
    ("echo-analysis", "POST", "/echo/episodes/{episode}/analysis", None, ECHO_ASK, None),
    ("echo-suggestions", "GET", "/echo/projects/{project}/suggestions", None, READ, None),
    ("echo-suggestion", "GET", "/echo/suggestions/{no_suggestion}", None, NOTHING, None),
    (
        "echo-accept",
        "POST",
        "/echo/suggestions/{no_suggestion}/accept",
        {},
        (401, 403, 404, 404, 404, 404),
        None,
    ),
]


def fill(value, ids: dict[str, int]):
    """Replace "{name}" placeholders (in paths and bodies) with the world's ids."""
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("case_id", "method", "path", "body", "expected", "needs"), CASES, ids=[c[0] for c in CASES]
)
def test_role_matrix(
    as_role, world, db_session, role, case_id, method, path, body, expected, needs
):
    want = expected[ROLES.index(role)]
    if needs == "pipeline" and 200 <= want < 300 and not (PIPELINE and CONTROL):
        pytest.skip("tasks.pipelines / tasks.pipeline.control are not in the tree yet")
    workflow = factories.make_workflow(
        db_session, name="owned-keyframe", owner_id=world.users["owner"].id
    )
    token = (
        factories.make_api_token(db_session, world.users["owner"])
        if hasattr(factories, "make_api_token")
        else None
    )
    if token is None:
        from shared.models import ApiToken

        token = ApiToken(user_id=world.users["owner"].id, name="t", token_hash="h" * 64)
        db_session.add(token)
    db_session.commit()
    ids = {name: row.id for name, row in world.rows.items()}
    ids.update(
        workflow=workflow.id,
        other_id=world.users["other"].id,
        owner_token=token.id,
        no_node="no-such-node",
        no_entry=999999999,
        no_suggestion=999_999_999,
        setting="guest_jobs_per_hour",
    )
    api = as_role(None if role == "anon" else role)
    response = api.request(method, fill(path, ids), json=fill(body, ids))
    assert response.status_code == want, (case_id, role, response.get_json(silent=True))
    if response.status_code >= 400:
        body = response.get_json()
        assert set(body) == {"error", "message", "fields"}


def test_every_route_is_in_the_matrix_or_public(app):
    """A new endpoint must be added to the matrix (or be a documented public page)."""
    covered = {(m, p.split("?")[0]) for _, m, p, *_ in CASES}
    public = {"/openapi.json", "/docs", "/docs/assets/<path:filename>", "/static/<path:filename>"}
    for rule in app.url_map.iter_rules():
        # The dashboard's HTML pages and redirects have their own role tests.
        if rule.rule in public or rule.endpoint.startswith(("api-docs", "events", "dashboard")):
            continue
        path = rule.rule
        for converter in ("<int:", "<"):
            while converter in path:
                start = path.index(converter)
                end = path.index(">", start)
                path = path[:start] + "{x}" + path[end + 1 :]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            normalised = {(m, _normalise(p)) for m, p in covered}
            assert (method, path) in normalised, f"{method} {rule.rule} is not in the matrix"


def _normalise(path: str) -> str:
    import re

    return re.sub(r"\{[a-z_]+\}", "{x}", path)


def test_guest_mode_off_refuses_guests(app, as_role, world):
    with farm_setting(app, "guest_mode", "off"):
        response = as_role("guest").get(f"/api/anime/projects/{world.rows['public'].id}")
        status = as_role("guest").get("/api/anime/guest-status").get_json()
    assert response.status_code == 403
    assert status["mode"] == "off" and status["allowed_kinds"] == []


def test_guest_status_counts_the_hour(as_role, world, db_session):
    factories.make_job(
        db_session,
        project_id=world.rows["public"].id,
        owner_id=world.users["guest"].id,
        kind="image",
    )
    db_session.commit()
    body = as_role("guest").get("/api/anime/guest-status").get_json()
    assert body["is_guest"] and body["jobs_left"] == body["jobs_per_hour"] - 1
    anonymous = as_role(None).get("/api/anime/guest-status").get_json()
    assert anonymous["is_guest"] is False and anonymous["jobs_left"] is None
