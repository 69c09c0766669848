"""What operators see and do (issue 15): production names and failed stages in the job list,
why a queued stage waits, scenes by order, stage run ids linked to Flower, cancelling after a
confirmation, failed stages grouped and retried a group at once, offline nodes removed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from shared.models import Job, StageRun, WorkerNode, Workflow
from shared.models.columns import utcnow
from tests import factories
from tests.web.test_dashboard import log_in

FULL_NODE = {
    "node_classes": [
        "CheckpointLoaderSimple",
        "CLIPTextEncode",
        "EmptyLatentImage",
        "KSampler",
        "VAEDecode",
        "SaveImage",
        "LoraLoader",
    ],
    "models": {"checkpoints": ["v1-5-pruned-emaonly.safetensors"], "loras": []},
}


def keyframe_workflow(db_session) -> Workflow:
    """The active built-in keyframe workflow."""
    return db_session.scalar(
        sa.select(Workflow).where(Workflow.stage == "keyframe", Workflow.is_active)
    )


@pytest.fixture
def waiting_job(world, db_session):
    """A queued job on scene order 0: its keyframe ready to run, its animate waiting for it."""
    job = factories.make_job(
        db_session,
        project_id=world.rows["project"].id,
        owner_id=world.users["owner"].id,
        episode_id=world.rows["episode"].id,
        kind="scene",
    )
    scene = world.rows["scene"]
    keyframe = factories.make_stage_run(
        db_session,
        job_id=job.id,
        scene_id=scene.id,
        workflow_id=keyframe_workflow(db_session).id,
        inputs={"params": {"prompt": "rain", "steps": 3}},
        celery_task_id="0f0e5a5c-2d7e-4b43-9a5e-6c1d8b1e2f30",
    )
    animate = factories.make_stage_run(
        db_session, job_id=job.id, scene_id=scene.id, stage="animate"
    )
    db_session.execute(sa.delete(WorkerNode))
    db_session.commit()
    return job, keyframe, animate


def waiting_for(as_role, job_id: int) -> dict[str, str | None]:
    """Each stage's `waiting_for`, by stage name."""
    report = as_role("owner").get(f"/api/anime/generation/{job_id}/status").get_json()
    return {s["stage"]: s["waiting_for"] for s in report["stages"]}


def test_a_queued_stage_says_why_it_waits(as_role, waiting_job, db_session):
    job, keyframe, animate = waiting_job
    reasons = waiting_for(as_role, job.id)
    assert reasons == {
        "keyframe": "no GPU node is online",
        "animate": "waiting for keyframe of scene 0",
    }

    node = factories.make_worker_node(
        db_session, last_heartbeat=utcnow(), status="draining", **FULL_NODE
    )
    db_session.commit()
    assert waiting_for(as_role, job.id)["keyframe"] == (
        f"every node that has what it needs is drained ({node.name})"
    )

    node.models = {"checkpoints": ["other.safetensors"]}
    node.status = "online"
    db_session.commit()
    assert waiting_for(as_role, job.id)["keyframe"] == (
        "no node has what it needs: checkpoints/v1-5-pruned-emaonly.safetensors"
    )

    node.models = FULL_NODE["models"]
    node.last_heartbeat = utcnow() - timedelta(minutes=5)
    db_session.commit()
    assert waiting_for(as_role, job.id)["keyframe"] == "no GPU node is online"

    keyframe.status, animate.status = "running", "queued"
    db_session.commit()
    assert waiting_for(as_role, job.id) == {
        "keyframe": None,
        "animate": "waiting for keyframe of scene 0",
    }


def test_job_list_and_status_name_the_production_and_the_failed_stage(as_role, world):
    job = world.rows["job"]
    page = as_role("operator").get("/api/anime/jobs").get_json()
    row = next(item for item in page["items"] if item["id"] == job.id)
    episode = world.rows["episode"]
    assert row["project_name"] == world.rows["project"].name
    assert (row["episode_number"], row["episode_title"]) == (episode.number, episode.title)
    assert row["failed_stage"] == "animate of scene 0"
    report = as_role("owner").get(f"/api/anime/generation/{job.id}/status").get_json()
    assert report["failed_stage"] == "animate of scene 0"
    assert {s["scene_order"] for s in report["stages"]} == {0}
    assert report["file_stem"].startswith(
        f"{world.rows['project'].name.lower().replace(' ', '-')}-ep{episode.number}"
    )


def test_job_page_shows_names_run_ids_flower_links_and_scene_orders(
    client, world, waiting_job, app
):
    job, keyframe, animate = waiting_job
    log_in(client, world.users["operator"])
    page = client.get(f"/dashboard/jobs/{job.id}").get_data(as_text=True)
    flower = app.config["TOWER_FLOWER_URL"].rstrip("/")
    assert f'href="{flower}/task/{keyframe.celery_task_id}"' in page
    assert f">{animate.id}</td>" in page  # no task yet: the id alone
    assert "Scene 0" in page and world.rows["project"].name in page
    assert "no GPU node is online" in page and "waiting for keyframe of scene 0" in page
    failed_page = client.get(f"/dashboard/jobs/{world.rows['job'].id}").get_data(as_text=True)
    assert "Failed at animate of scene 0" in failed_page


def test_cancelling_from_the_dashboard_asks_first(client, world, waiting_job, db_session):
    job, _, _ = waiting_job
    csrf = log_in(client, world.users["operator"])
    job_page = client.get(f"/dashboard/jobs/{job.id}").get_data(as_text=True)
    assert f'href="/dashboard/jobs/{job.id}/cancel"' in job_page
    confirm = client.get(f"/dashboard/jobs/{job.id}/cancel").get_data(as_text=True)
    assert 'method="post"' in confirm and f'value="{csrf}"' in confirm
    assert client.post(f"/dashboard/jobs/{job.id}/cancel", data={}).status_code == 403
    db_session.expire_all()
    assert db_session.get(Job, job.id).status == "queued"
    done = client.post(f"/dashboard/jobs/{job.id}/cancel", data={"csrf_token": csrf})
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/dashboard/jobs/{job.id}"
    )
    db_session.expire_all()
    assert db_session.get(Job, job.id).status == "cancelled"
    again = client.post(f"/dashboard/jobs/{job.id}/cancel", data={"csrf_token": csrf})
    assert again.status_code == 409 and "already" in again.get_data(as_text=True)


def failed_job(db_session, project, owner, error: str, number: int) -> StageRun:
    """A failed job of `project`'s episode `number` whose animate stage failed with `error`."""
    episode = factories.make_episode(db_session, project_id=project.id, number=number, title="Rain")
    scene = factories.make_scene(db_session, episode_id=episode.id, order=2)
    job = factories.make_job(
        db_session, project_id=project.id, owner_id=owner.id, episode_id=episode.id, status="failed"
    )
    factories.make_stage_run(db_session, job_id=job.id, scene_id=scene.id, status="succeeded")
    return factories.make_stage_run(
        db_session,
        job_id=job.id,
        scene_id=scene.id,
        stage="animate",
        status="failed",
        error=error,
        finished_at=utcnow(),
    )


def test_failed_stages_are_grouped_filtered_and_retried_by_group(client, world, db_session):
    oom = world.rows["failed"].error
    owner, other = world.users["owner"], world.users["other"]
    mine = factories.make_project(db_session, owner_id=owner.id, name="Second")
    theirs = factories.make_project(db_session, owner_id=other.id, name="Theirs")
    a = failed_job(db_session, mine, owner, oom, 1)
    b = failed_job(db_session, theirs, other, oom, 1)
    c = failed_job(db_session, theirs, other, "node 3 (KSampler): bad seed", 2)
    db_session.commit()
    csrf = log_in(client, world.users["operator"])

    page = client.get("/dashboard/failed").get_data(as_text=True)
    assert 'data-count="3"' in page and 'data-count="1"' in page
    assert "scene 2" in page and f"<td>{a.id}</td>" in page
    by_owner = client.get(f"/dashboard/failed?owner_id={other.id}").get_data(as_text=True)
    assert f'data-stage-id="{a.id}"' not in by_owner and f'data-stage-id="{b.id}"' in by_owner
    by_project = client.get(f"/dashboard/failed?project_id={mine.id}").get_data(as_text=True)
    assert f'data-stage-id="{a.id}"' in by_project and f'data-stage-id="{c.id}"' not in by_project

    group = [world.rows["failed"].id, a.id, b.id]
    reply = client.post(
        "/dashboard/failed/retry",
        data={"csrf_token": csrf, "stage_id": [str(i) for i in group], "owner_id": ""},
    )
    assert reply.status_code == 302
    outcome = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert outcome.count(" queued") == 3, outcome
    db_session.expire_all()
    statuses = {
        run.job_id: db_session.get(Job, run.job_id).status
        for run in (world.rows["failed"], a, b, c)
    }
    assert statuses == {
        world.rows["failed"].job_id: "queued",
        a.job_id: "queued",
        b.job_id: "queued",
        c.job_id: "failed",
    }
    assert client.post("/dashboard/failed/retry", data={"stage_id": [str(c.id)]}).status_code == 403


def test_only_an_offline_node_can_be_removed(as_role, db_session):
    online = factories.make_worker_node(db_session, last_heartbeat=utcnow())
    offline = factories.make_worker_node(db_session, status="offline")
    db_session.commit()
    operator = as_role("operator")
    refused = operator.delete(f"/api/fleet/nodes/{online.name}")
    assert refused.status_code == 409 and refused.get_json()["fields"] == {"status": "online"}
    assert as_role("owner").delete(f"/api/fleet/nodes/{offline.name}").status_code == 403
    assert operator.delete(f"/api/fleet/nodes/{offline.name}").status_code == 204
    assert operator.delete(f"/api/fleet/nodes/{offline.name}").status_code == 404
    names = [n["name"] for n in operator.get("/api/fleet/nodes").get_json()]
    assert online.name in names and offline.name not in names


def test_retry_form_ignores_ids_that_are_not_ascii_digits(client, world, db_session):
    # "²".isdigit() is true but int("²") raises: the form's handler answered 500.
    csrf = log_in(client, world.users["operator"])
    failed = world.rows["failed"]
    reply = client.post(
        "/dashboard/failed/retry",
        data={"csrf_token": csrf, "stage_id": ["²", "٣", "99999999999999999999"]},
    )
    assert reply.status_code == 302
    assert "Retried: nothing" in client.get(reply.headers["Location"]).get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Job, failed.job_id).status == "failed"
