"""GET /health: anyone learns whether the farm is up, staff learn which dependency is down
and where the GPU backends are, and the probes run once per cache period, not per call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests import factories


class StatsHandler(BaseHTTPRequestHandler):
    """A stand-in ComfyUI answering only /system_stats, counting its calls."""

    calls = 0

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).calls += 1
        status = 200 if self.path == "/system_stats" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"system": {}, "devices": []}')

    def log_message(self, *args):
        pass


@pytest.fixture
def backend(db_session) -> Iterator[type[StatsHandler]]:
    """A live backend "alive" and a dead one "dead", registered as nodes."""
    handler = type("Counted", (StatsHandler,), {"calls": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    factories.make_worker_node(
        db_session, name="alive", comfyui_url=f"http://127.0.0.1:{server.server_port}"
    )
    factories.make_worker_node(db_session, name="dead", comfyui_url="http://127.0.0.1:9")
    db_session.commit()
    try:
        yield handler
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def cache_for(app):
    """Set how long health reports are reused, starting from an empty cache."""

    def apply(seconds: float) -> None:
        app.config["TOWER_HEALTH_CACHE_S"] = seconds
        app.extensions.pop("tower_health", None)

    yield apply
    apply(5.0)


def test_staff_see_each_dependency_and_backend(as_role, world, backend, cache_for):
    cache_for(0)
    response = as_role("operator").get("/health")
    body = response.get_json()
    assert response.status_code == 200
    assert body["checks"]["database"] == body["checks"]["redis"] == "ok"
    states = {b["name"]: b["status"] for b in body["backends"]}
    assert states["alive"] == "ok" and states["dead"] == "unreachable"


@pytest.mark.parametrize("role", [None, "guest", "owner"])
def test_others_learn_only_whether_the_farm_is_up(as_role, world, backend, cache_for, role):
    cache_for(0)
    response = as_role(role).get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_a_bad_token_still_gets_the_public_answer(client, world, cache_for):
    cache_for(0)
    response = client.get("/health", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 200 and set(response.get_json()) == {"status"}


def test_probes_run_once_per_cache_period_whoever_asks(as_role, world, backend, cache_for):
    cache_for(3600)
    for role in (None, "operator", None, "admin", "guest", None):
        assert as_role(role).get("/health").status_code == 200
    assert backend.calls == 1
    cache_for(0)
    as_role(None).get("/health")
    as_role(None).get("/health")
    assert backend.calls == 3
