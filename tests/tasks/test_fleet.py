"""A GPU node whose worker dies stops heartbeating, goes offline, and its stage is re-delivered."""

from __future__ import annotations

import time

import sqlalchemy as sa

from shared.db import db
from shared.models import WorkerNode
from tasks.pipeline.fleet import HEARTBEAT_EVERY_S, OFFLINE_AFTER_S
from tests.support.processes import wait_for
from tests.tasks.conftest import job_row
from tests.tasks.test_failures import SLOW_ANIMATE, submissions, wait_running_on_backend
from tests.tasks.test_pipeline import submit, wait_until_done

SWEEP_EVERY_S = 5.0


def node_state(app, name: str) -> tuple[str, object]:
    """A node's status and last heartbeat, fresh from the database."""
    with app.app_context():
        db.session.expire_all()
        row = db.session.execute(
            sa.select(WorkerNode.status, WorkerNode.last_heartbeat).where(WorkerNode.name == name)
        ).one()
        return row.status, row.last_heartbeat


def operator_headers(app) -> dict[str, str]:
    """A bearer token of a committed operator account."""
    from shared.models import User
    from web.credentials import issue_access_token

    with app.app_context():
        user = User(
            email=f"fleet-ops-{time.monotonic_ns()}@example.com", password_hash="x", role="operator"
        )
        db.session.add(user)
        db.session.commit()
        token = issue_access_token(app.config["SECRET_KEY"], user.id, user.role, 600)[0]
    return {"Authorization": f"Bearer {token}"}


def test_fleet_api_shows_the_running_stage_on_its_node(app, farm, production):
    headers = operator_headers(app)
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    client = app.test_client()
    nodes = {n["name"]: n for n in client.get("/api/fleet/nodes", headers=headers).json}
    busy = nodes[run.backend]
    assert busy["status"] == "online" and busy["comfyui_queue"] >= 1
    assert busy["current_stage"]["job_id"] == job_id
    queues = client.get("/api/fleet/queues", headers=headers).json
    workers = {w["name"].split("@")[0]: w for w in queues["workers"]}
    assert workers[f"gpu-{run.backend}"]["running"] >= 1, queues
    assert queues["running"] >= 1
    assert sum(q["running"] for q in queues["queues"]) >= 1
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())


def test_silent_node_goes_offline_and_its_stage_is_redelivered_once(app, farm, production):
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    node = run.backend
    assert node_state(app, node)[0] == "online"
    farm.gpu_workers[node].kill()
    killed_at = time.monotonic()
    try:
        # Offline after OFFLINE_AFTER_S without a heartbeat, noticed by the next sweep.
        limit = OFFLINE_AFTER_S + HEARTBEAT_EVERY_S + SWEEP_EVERY_S
        wait_for(
            lambda: node_state(app, node)[0] == "offline",
            limit,
            interval=0.2,
            what=lambda: f"node {node} to go offline\n{farm.logs()}",
        )
        offline_after = time.monotonic() - killed_at
        assert offline_after <= limit, offline_after
        job = wait_until_done(app, farm, job_id, timeout=90)
        assert job.status == "succeeded", (job.error, farm.logs())
        again = next(r for r in job_row(app, job_id).stage_runs if r.id == run.id)
        assert again.status == "succeeded" and again.deliveries >= 2
        # Re-attached to the prompt already on the backend: ComfyUI ran it exactly once.
        assert submissions(farm, run.prompt_id) == {node: 1}
    finally:
        farm.start_gpu_worker(node)
    # A restarted worker re-registers and the node is online again.
    wait_for(
        lambda: node_state(app, node)[0] == "online",
        60,
        interval=0.2,
        what=lambda: f"node {node} back online\n{farm.logs()}",
    )
