"""Property-based tests from /openapi.json (schemathesis): as a user and as a guest, no
operation answers 5xx, an undocumented status or content type, or a body breaking its schema."""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import token_for

# Bounded for CI: a few examples per operation and role keep the run near half a minute.
MAX_EXAMPLES = 6
TIMES: dict[str, float] = {}


def not_a_server_error_but_the_llm_gateway(ctx, response, case):
    """No 5xx, except Echo Brain's documented gateway answers (502, 504 and 503 without an
    LLM configured), which say the LLM server is missing, failing or slow, not Tower."""
    if response.status_code in (502, 503, 504) and case.path.startswith("/echo/"):
        if str(response.json().get("error", "")).startswith("llm_"):
            return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_the_llm_gateway,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def operations(app):
    """Every operation of the app's published OpenAPI document."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) > 40
    return found


def known_ids(world, role: str) -> dict[str, int]:
    """Path parameters pointing at rows that exist (random ids mostly meet 404s)."""
    rows = world.rows
    project = rows["project"] if role == "owner" else rows["public"]
    return {
        "project_id": project.id,
        "character_id": rows["character"].id,
        "episode_id": (rows["episode"] if role == "owner" else rows["public_episode"]).id,
        "scene_id": (rows["scene"] if role == "owner" else rows["public_scene"]).id,
        "request_id": rows["job"].id,
        "asset_id": rows["asset"].id,
        "workflow_id": world.rows["workflow"].id,
        "user_id": world.users["other"].id,
        "token_id": 1,
    }


@pytest.mark.parametrize("role", ["owner", "guest"])
def test_openapi_contract_holds_under_generated_requests(app, world, db_session, role):
    from tests import factories

    user = world.users[role]
    world.rows["workflow"] = factories.make_workflow(
        db_session, name="fuzzed", owner_id=world.users["owner"].id
    )
    db_session.commit()
    ids = known_ids(world, role)
    failures = [
        problem
        for operation in operations(app)
        if (problem := fuzz_operation(app, operation, user, ids))
    ]
    assert not failures, "\n\n".join(failures)


def fuzz_operation(app, operation, user, ids: dict[str, int]) -> str | None:
    """Run one operation's generated cases; the first failure as text, or None."""
    calls = [0]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        calls[0] += 1
        if calls[0] % 2 and case.path_parameters:
            case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
        # A fresh token per case: a generated logout must not starve the following cases.
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token_for(app, user)}"}, checks=CHECKS
        )

    started = time.monotonic()
    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all together
        return f"{operation.label}: {str(exc)[:1500]}"
    finally:
        TIMES[operation.label] = time.monotonic() - started
    return None
