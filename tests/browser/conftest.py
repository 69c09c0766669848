"""A real farm (one emulated GPU node), the web app served on a free port, and headless
Debian Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from shared.db import db
from shared.models import User
from tasks.pipeline.workflow_store import seed_default_workflows
from tests.support.farm import Farm, running_farm
from tests.support.processes import REPO
from tests.tasks.conftest import production, truncate  # noqa: F401 (the production fixture)
from tests.workers.progress_sink.harness import start_sink
from web.credentials import hash_password

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--mute-audio",
]
SCREENSHOTS = REPO / "var" / "screenshots"
PASSWORD = "operator password 1"


@dataclass
class Operator:
    """An operator account the browser logs in with."""

    email: str
    password: str


@pytest.fixture(scope="module")
def farm(settings, app: Flask, log_dir, tmp_path_factory, celery_app) -> Iterator[Farm]:
    """One emulated GPU node (so a budgeted fault fires once in the whole farm), a CPU worker,
    beat and the progress sink."""
    with app.app_context():
        seed_default_workflows(db.session)
        db.session.commit()
    root = tmp_path_factory.mktemp("browser-farm")
    # The progress sink turns stage events into job progress, as the Procfile's does.
    sink = start_sink(settings, log_dir, consumer="sink-browser")
    try:
        with running_farm(settings, log_dir, root, nodes=("node-a",)) as running:
            yield running
    finally:
        sink.stop()
    truncate(app)


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    """The web app served by werkzeug in a thread (one thread per request, SSE included)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="dashboard-web", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def operator(app: Flask, farm) -> Operator:
    """A committed operator account."""
    with app.app_context():
        user = User(email="ops@example.com", password_hash=hash_password(PASSWORD), role="operator")
        db.session.add(user)
        db.session.commit()
    return Operator("ops@example.com", PASSWORD)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/services packages installs chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page on a laptop-sized screen."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def csp_violations(page) -> list[str]:
    """What the page's Content-Security-Policy refused, on every page it visits (Chromium
    reports each refusal on the console)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser test saves its screenshots (var/ is git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
