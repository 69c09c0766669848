"""Security headers on every page and API answer, and /docs served from this app alone."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import Api


def policy(response) -> dict[str, str]:
    """The Content-Security-Policy as {directive: sources}."""
    header = response.headers.get("Content-Security-Policy", "")
    return dict((part.strip().split(" ", 1) + [""])[:2] for part in header.split(";") if part)


@pytest.mark.parametrize(
    "path", ["/dashboard/login", "/dashboard/", "/docs", "/health/live", "/api/anime/projects"]
)
def test_every_answer_forbids_framing_and_foreign_scripts(client, world, path):
    response = client.get(path)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    directives = policy(response)
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]


def test_staff_pages_carry_the_headers_too(client, world):
    response = Api(client, world.tokens["operator"]).get("/dashboard/")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_dashboard_pages_have_no_inline_script_or_style(client, world):
    for path in (
        "/dashboard/",
        "/dashboard/failed",
        "/dashboard/nodes",
        "/dashboard/queues",
        f"/dashboard/jobs/{world.rows['job'].id}",
        "/dashboard/login",
    ):
        html = Api(client, world.tokens["operator"]).get(path).get_data(as_text=True)
        assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, path
        assert re.search(r"\sstyle=|<style|\son[a-z]+=", html) is None, path


def test_docs_load_every_asset_from_this_app(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html and "//cdn" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    local = [url for url in assets if url.startswith("/")]
    assert any(url.endswith("swagger-ui-bundle.js") for url in local)
    for url in local:
        assert client.get(url).status_code == 200, url
