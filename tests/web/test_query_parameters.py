"""A single-valued query parameter given twice is refused naming it (webargs quietly took the
first: `?limit=1&limit=500`, `?dry_run=false&dry_run=true`), and nothing is done."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shared.models import Project
from tests.web.test_productions import production


@pytest.mark.parametrize(
    "query",
    [
        "limit=1&limit=200",
        "status=failed&status=queued",
        "cursor=a&cursor=b",
        "owner_id=1&owner_id=2",
    ],
)
def test_a_repeated_filter_is_refused_naming_it(as_role, world, query):
    response = as_role("operator").get(f"/api/anime/jobs?{query}")
    assert response.status_code == 422, response.get_json()
    name = query.split("=", 1)[0]
    assert response.get_json()["fields"] == {name: "given more than once; give it once"}


def test_each_parameter_once_still_works(as_role, world):
    response = as_role("operator").get("/api/anime/jobs?limit=1&status=failed")
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["items"]) == 1


def test_a_repeated_dry_run_creates_nothing(as_role, world, db_session):
    before = db_session.scalar(sa.select(sa.func.count()).select_from(Project))
    response = as_role("owner").post(
        "/api/anime/productions?dry_run=true&dry_run=false", json=production()
    )
    assert response.status_code == 422, response.get_json()
    assert "dry_run" in response.get_json()["fields"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Project)) == before
