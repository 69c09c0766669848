"""Placement faults on a farm of unequal nodes: waiting for a capable backend has a deadline,
and a model a backend lists but lacks sends the stage elsewhere (or fails naming it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from comfy_emulator.inventory import DEFAULT_MODELS
from shared.db import db
from shared.models import Character, Scene, WorkerNode
from tasks.pipeline.workflow_store import seed_default_workflows
from tests.support.farm import Farm, running_farm
from tests.support.processes import wait_for
from tests.tasks.conftest import FAST_OPTIONS, job_row, truncate
from tests.tasks.test_fleet import operator_headers
from tests.tasks.test_pipeline import submit, wait_until_done

NODE_WAIT_S = 12  # several looks (one every 2 s): more than Celery's default of 3 retries
# node-a has only rife47 on disk; node-b has every LoRA the tests use and rife49 too.
MODELS = {
    "node-a": {**DEFAULT_MODELS, "rife": ["rife47.pth"]},
    "node-b": {
        **DEFAULT_MODELS,
        "loras": [*DEFAULT_MODELS["loras"], "rare_lora.safetensors"],
        "rife": ["rife47.pth", "rife49.pth"],
    },
}


@pytest.fixture(scope="module")
def farm(settings, app: Flask, log_dir, tmp_path_factory, celery_app) -> Iterator[Farm]:
    """node-a and node-b with different models, GPU stages waiting NODE_WAIT_S for a node."""
    with app.app_context():
        seed_default_workflows(db.session)
        db.session.commit()
    root = tmp_path_factory.mktemp("placement")
    # Nodes read their ComfyUI again only after a silence: tests set node rows as a stale
    # registration would have left them.
    farm_settings = settings.with_overrides(
        setting_defaults={"node_wait_s": NODE_WAIT_S, "node_refresh_s": 86400}
    )
    with running_farm(
        farm_settings, log_dir, root, nodes=("node-a", "node-b"), models=MODELS
    ) as running:
        yield running
    truncate(app)


def set_node_status(app, name: str, status: str) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(WorkerNode).where(WorkerNode.name == name).values(status=status)
        )
        db.session.commit()


def lacking(app, name: str) -> dict:
    with app.app_context():
        db.session.expire_all()
        return db.session.scalar(
            sa.select(WorkerNode.lacking_models).where(WorkerNode.name == name)
        )


def give_scene_a_lora(app, production, lora: str) -> None:
    with app.app_context():
        rare = Character(
            project_id=production.project_id,
            name=f"Has {lora}",
            lora_name=lora,
            trigger_words="chr_rare",
        )
        db.session.add(rare)
        db.session.flush()
        scene = db.session.get(Scene, production.scene_ids[0])
        scene.characters.append(rare)
        db.session.commit()


def test_a_stage_waiting_for_a_node_fails_at_the_deadline_naming_what_it_needs(
    app, farm, production
):
    give_scene_a_lora(app, production, "rare_lora.safetensors")
    set_node_status(app, "node-b", "draining")
    try:
        job = wait_until_done(
            app, farm, submit(app, production, kind="image", scene_ids=production.scene_ids[:1])
        )
    finally:
        set_node_status(app, "node-b", "online")
    assert job.status == "failed", farm.logs()
    keyframe = next(r for r in job.stage_runs if r.stage == "keyframe")
    assert keyframe.error.startswith(f"no capable backend online for {NODE_WAIT_S} s"), (
        keyframe.error
    )
    assert "loras/rare_lora.safetensors" in keyframe.error
    assert "node-b (draining)" in keyframe.error
    assert keyframe.error_detail["code"] == "no_capable_backend"
    assert "MaxRetriesExceededError" not in farm.logs()


def test_a_model_a_backend_lacks_moves_the_stage_and_the_mark_is_kept(app, farm, production):
    options = {**FAST_OPTIONS, "stages": {"interpolate": {"rife_model": "rife49.pth"}}}
    set_node_status(app, "node-b", "draining")  # node-a takes the stage first
    try:
        job_id = submit(
            app, production, kind="scene", scene_ids=production.scene_ids[:1], options=options
        )
        wait_for(lambda: lacking(app, "node-a"), 120, what=lambda: f"node-a to fail\n{farm.logs()}")
    finally:
        set_node_status(app, "node-b", "online")
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    interpolations = sorted(
        (r for r in job.stage_runs if r.stage == "interpolate"), key=lambda r: r.attempt
    )
    assert [(r.backend, r.status) for r in interpolations] == [
        ("node-a", "failed"),
        ("node-b", "succeeded"),
    ]
    assert interpolations[0].error_detail["code"] == "comfy_model_missing"
    # The pack's download log runs to some 25 KB; rows, events and the CLI carry its start.
    assert "Tried all urls to download rife49.pth" in interpolations[0].error
    assert len(interpolations[0].error) < 2100
    assert lacking(app, "node-a") == {"rife": ["rife49.pth"]}
    # The mark survives the worker registering again, until an operator clears it.
    farm.gpu_workers["node-a"].stop()
    farm.start_gpu_worker("node-a")
    wait_for(lambda: set_online(app, "node-a"), 60, what="node-a to register again")
    assert lacking(app, "node-a") == {"rife": ["rife49.pth"]}
    reply = app.test_client().post(
        "/api/fleet/nodes/node-a/clear-missing", headers=operator_headers(app)
    )
    assert reply.status_code == 200 and reply.json["lacking_models"] == {}
    assert lacking(app, "node-a") == {}


def node_row_models(app, name: str) -> dict:
    with app.app_context():
        db.session.expire_all()
        return db.session.scalar(sa.select(WorkerNode.models).where(WorkerNode.name == name))


def set_node_models(app, name: str, models: dict) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(WorkerNode)
            .where(WorkerNode.name == name)
            .values(models=models, lacking_models={})
        )
        db.session.commit()


def refused_on_a_then_run_on_b(app, farm, production, kind, stage, refused) -> list:
    """Submit a `kind` job of one scene while node-b drains (node-a takes every stage), wait
    until `refused()` says node-a turned `stage` down (or the job failed), let node-b take it,
    and return the stage's attempts: node-a's failure, then node-b's success."""
    set_node_status(app, "node-b", "draining")
    job_id = submit(app, production, kind=kind, scene_ids=production.scene_ids[:1])
    wait_for(
        lambda: refused() or job_row(app, job_id).status == "failed",
        120,
        what=lambda: f"node-a to refuse the {stage}\n{farm.logs()}",
    )
    set_node_status(app, "node-b", "online")
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    runs = sorted((r for r in job.stage_runs if r.stage == stage), key=lambda r: r.attempt)
    assert [(r.backend, r.status) for r in runs] == [("node-a", "failed"), ("node-b", "succeeded")]
    return runs


def test_a_model_a_backend_no_longer_lists_moves_the_stage(app, farm, production):
    """node-a's row (from its start-up) names a LoRA its ComfyUI no longer lists: validation's
    400 marks node-a and sends the stage to node-b, instead of failing the job."""
    give_scene_a_lora(app, production, "rare_lora.safetensors")
    registered = node_row_models(app, "node-a")
    set_node_models(
        app, "node-a", {**registered, "loras": [*registered["loras"], "rare_lora.safetensors"]}
    )
    try:
        keyframes = refused_on_a_then_run_on_b(
            app, farm, production, "image", "keyframe", lambda: lacking(app, "node-a")
        )
        assert keyframes[0].error_detail["code"] == "comfy_model_missing"
        assert "rare_lora.safetensors" in keyframes[0].error
        assert lacking(app, "node-a") == {"loras": ["rare_lora.safetensors"]}
    finally:
        set_node_status(app, "node-b", "online")
        set_node_models(app, "node-a", registered)


RIFE = "RIFE VFI"  # the Frame-Interpolation pack's class


def node_classes(app, name: str) -> list[str]:
    with app.app_context():
        db.session.expire_all()
        return db.session.scalar(sa.select(WorkerNode.node_classes).where(WorkerNode.name == name))


def set_node_classes(app, name: str, classes: list[str]) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(WorkerNode).where(WorkerNode.name == name).values(node_classes=classes)
        )
        db.session.commit()


def restart_unheard(farm, node: str, without_classes: tuple[str, ...] = ()) -> None:
    """Stop a node's ComfyUI until its worker's heartbeat finds it silent, then start it again
    (`without_classes`: node packs that failed to load this time)."""
    worker = farm.gpu_workers[node]
    silences = worker.log_text().count(f"heartbeat skipped node={node}")
    farm.emulators[node].stop()
    wait_for(
        lambda: worker.log_text().count(f"heartbeat skipped node={node}") > silences,
        60,
        what=f"{node}'s heartbeat to find its ComfyUI silent",
    )
    farm.restart_backend(node, without_classes=without_classes)


def test_a_node_pack_missing_after_a_restart_moves_the_stage(app, farm, production):
    """node-a's ComfyUI comes back without the Frame-Interpolation pack: its worker reads its
    classes again once it answers, and a stage placed on a row that still names the class (a
    restart the worker did not see) is refused as unknown there and moves to node-b."""
    stale = (node_classes(app, "node-a"), node_row_models(app, "node-a"))
    restart_unheard(farm, "node-a", without_classes=(RIFE,))
    try:
        wait_for(lambda: RIFE not in node_classes(app, "node-a"), 60, what="node-a re-registered")
        # Without the pack, its models are not listed either (they are its loader's choices).
        assert "rife" not in node_row_models(app, "node-a")
        set_node_classes(app, "node-a", stale[0])  # as if the restart had gone unseen
        set_node_models(app, "node-a", stale[1])
        runs = refused_on_a_then_run_on_b(
            app, farm, production, "scene", "interpolate",
            lambda: RIFE not in node_classes(app, "node-a"),
        )  # fmt: skip
        assert runs[0].error_detail["code"] == "comfy_node_missing" and RIFE in runs[0].error
    finally:
        set_node_status(app, "node-b", "online")
        restart_unheard(farm, "node-a")
        wait_for(lambda: RIFE in node_classes(app, "node-a"), 60, what="node-a's classes back")


def set_online(app, name: str) -> bool:
    with app.app_context():
        db.session.expire_all()
        node = db.session.scalar(sa.select(WorkerNode).where(WorkerNode.name == name))
        return node is not None and node.status == "online" and bool(node.node_classes)


def test_a_model_no_backend_has_fails_naming_it(app, farm, production):
    options = {**FAST_OPTIONS, "stages": {"interpolate": {"rife_model": "rife417.pth"}}}
    job_id = submit(
        app, production, kind="scene", scene_ids=production.scene_ids[:1], options=options
    )
    job = wait_until_done(app, farm, job_id)
    assert job.status == "failed"
    assert "rife/rife417.pth" in job.error, job.error
    tried = {r.backend for r in job.stage_runs if r.stage == "interpolate" and r.backend}
    assert tried == {"node-a", "node-b"}
    assert lacking(app, "node-a")["rife"] == ["rife417.pth"]
    assert lacking(app, "node-b")["rife"] == ["rife417.pth"]
