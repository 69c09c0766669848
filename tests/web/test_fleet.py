"""Operators' fleet API: nodes with their backend's queue, drain/undrain, queue lengths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
import requests

from shared.models import WorkerNode
from tests import factories
from tests.support.emulator import Emulator, start_emulator
from tests.support.web_server import free_port

SLOW_PROMPT = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 1},
    },
    "2": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}},
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A live ComfyUI emulator for queue depths."""
    with start_emulator(tmp_path_factory.mktemp("emu-fleet")) as emu:
        yield emu


def add_nodes(db_session, emulator: Emulator, world) -> dict[str, WorkerNode]:
    """node-busy (live backend, running a stage), node-dead (backend gone), node-off."""
    now = datetime.now(UTC)
    busy = factories.make_worker_node(
        db_session,
        name="node-busy",
        comfyui_url=emulator.url,
        gpu_name="RTX 4090",
        vram_total=24 * 2**30,
        vram_free=20 * 2**30,
        last_heartbeat=now,
        queues=["gpu"],
    )
    dead = factories.make_worker_node(
        db_session,
        name="node-dead",
        comfyui_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        last_heartbeat=now,
    )
    off = factories.make_worker_node(
        db_session, name="node-off", status="offline", comfyui_url=emulator.url
    )
    factories.make_stage_run(
        db_session,
        job_id=world.rows["job"].id,
        scene_id=world.rows["scene"].id,
        stage="interpolate",
        status="running",
        backend="node-busy",
        progress=0.5,
        started_at=now,
    )
    db_session.commit()
    return {"busy": busy, "dead": dead, "off": off}


def post_slow_prompts(url: str, count: int) -> None:
    """Queue `count` prompts that each run for a few seconds."""
    for n in range(count):
        reply = requests.post(
            f"{url}/prompt",
            json={
                "prompt": SLOW_PROMPT,
                "client_id": f"fleet-test-{n}",
                "extra_data": {"emulator_fault": "slow:3"},
            },
            timeout=5,
        )
        assert reply.status_code == 200, reply.text


def test_nodes_show_gpu_current_stage_and_backend_queue(as_role, world, db_session, emulator):
    add_nodes(db_session, emulator, world)
    post_slow_prompts(emulator.url, 2)
    try:
        reply = as_role("operator").get("/api/fleet/nodes")
    finally:
        requests.post(f"{emulator.url}/queue", json={"clear": True}, timeout=5)
        requests.post(f"{emulator.url}/interrupt", timeout=5)
    assert reply.status_code == 200, reply.json
    nodes = {n["name"]: n for n in reply.json}
    busy = nodes["node-busy"]
    assert busy["comfyui_queue"] == 2
    assert busy["gpu_name"] == "RTX 4090"
    assert busy["vram_used"] == 4 * 2**30 and busy["vram_total"] == 24 * 2**30
    assert busy["current_stage"]["stage"] == "interpolate"
    assert busy["current_stage"]["job_id"] == world.rows["job"].id
    assert busy["last_heartbeat"] is not None
    assert nodes["node-dead"]["comfyui_queue"] is None
    assert nodes["node-dead"]["current_stage"] is None
    # An offline node's backend is not asked at all.
    assert nodes["node-off"]["status"] == "offline" and nodes["node-off"]["comfyui_queue"] is None


def test_drain_and_undrain(as_role, world, db_session, emulator):
    add_nodes(db_session, emulator, world)
    api = as_role("admin")
    drained = api.post("/api/fleet/nodes/node-busy/drain")
    assert drained.status_code == 200 and drained.json["status"] == "draining"
    db_session.expire_all()
    assert db_session.query(WorkerNode).filter_by(name="node-busy").one().status == "draining"
    back = api.post("/api/fleet/nodes/node-busy/undrain")
    assert back.status_code == 200 and back.json["status"] == "online"
    refused = api.post("/api/fleet/nodes/node-off/undrain")
    assert refused.status_code == 409 and "offline" in refused.json["message"]
    assert api.post("/api/fleet/nodes/no-such-node/drain").status_code == 404


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("owner", 403), ("guest", 403)])
def test_fleet_is_for_operators_only(as_role, world, role, status):
    api = as_role(role)
    assert api.get("/api/fleet/nodes").status_code == status
    assert api.post("/api/fleet/nodes/x/drain").status_code == status
    assert api.get("/api/fleet/queues").status_code == status


def test_cookie_drain_needs_the_csrf_token(client, world, db_session, emulator):
    from tests.web.conftest import PASSWORD

    add_nodes(db_session, emulator, world)
    login = client.post(
        "/auth/login",
        json={"email": world.users["operator"].email, "password": PASSWORD, "session": True},
    )
    csrf = login.json["csrf_token"]
    assert client.post("/api/fleet/nodes/node-busy/drain").status_code == 403
    ok = client.post("/api/fleet/nodes/node-busy/drain", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json["status"] == "draining"


def test_queue_lengths_count_every_priority_list(as_role, world, db_session, emulator, settings):
    add_nodes(db_session, emulator, world)
    broker = redis.Redis.from_url(settings.broker_url)
    prefix = getattr(settings, "broker_key_prefix", "") or ""
    # What kombu's Redis transport writes for a queue with priorities: "<q>" and "<q>:<n>".
    # Queues no worker of the test run consumes, so the junk messages stay put.
    keys = {"gpu.node-busy": 1, "gpu.node-busy:3": 2, "gpu.node-dead:9": 1}
    try:
        for key, count in keys.items():
            broker.rpush(f"{prefix}{key}", *[b"{}"] * count)
        reply = as_role("operator").get("/api/fleet/queues")
    finally:
        broker.delete(*[f"{prefix}{key}" for key in keys])
    assert reply.status_code == 200, reply.json
    lengths = {q["name"]: q["length"] for q in reply.json["queues"]}
    assert lengths["gpu.node-busy"] == 3
    assert lengths["gpu.node-dead"] == 1
    assert {"gpu", "cpu", "control", "gpu.node-off"} <= set(lengths)
    body = reply.json
    assert body["running"] == sum(w["running"] for w in body["workers"])
    assert body["reserved"] == sum(w["reserved"] for w in body["workers"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/fleet/nodes/a%00b"),
        ("POST", "/api/fleet/nodes/a%00b/drain"),
        ("POST", "/api/fleet/nodes/a%00b/undrain"),
        ("POST", "/api/fleet/nodes/a%00b/clear-missing"),
        ("DELETE", "/api/fleet/nodes/a%00b"),
    ],
)
def test_a_node_name_with_a_nul_is_404_not_500(as_role, world, method, path):
    # Postgres refuses a NUL in a string literal: the lookup used to raise into a 500.
    reply = as_role("operator").request(method, path)
    assert reply.status_code == 404, reply.get_data(as_text=True)
    assert reply.get_json()["error"] == "not_found"
