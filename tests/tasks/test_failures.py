"""Failures on a real farm: classified errors, dying workers, retry and cancel."""

from __future__ import annotations

import os
import signal
import statistics
from collections import Counter

import requests
import sqlalchemy as sa

from comfy_emulator.inventory import DEFAULT_MODELS
from shared.db import db
from shared.models import Character, Job, Scene, StageRun, User, WorkerNode
from shared.progress import ProgressBus
from tasks.pipeline.control import prepare_retry, request_cancel
from tasks.pipelines import dispatch_job
from tasks.stopping import stop_job
from tests.support.processes import wait_for
from tests.tasks.conftest import FAST_OPTIONS, job_row
from tests.tasks.test_pipeline import submit, wait_until_done
from web.credentials import issue_access_token

SLOW_ANIMATE = {**FAST_OPTIONS, "stages": {"animate": {"steps": 60}}}


def running_stage(app, job_id, stage):
    """The stage run of a job that a worker is running now, once its prompt is on a backend."""
    with app.app_context():
        db.session.expire_all()
        return db.session.scalar(
            sa.select(StageRun).where(
                StageRun.job_id == job_id,
                StageRun.stage == stage,
                StageRun.status == "running",
                StageRun.prompt_id.is_not(None),
                StageRun.step >= 0,
            )
        )


def emulator_running(farm, run) -> bool:
    queue = requests.get(f"{farm.emulators[run.backend].url}/queue", timeout=5).json()
    return any(item[1] == run.prompt_id for item in queue["queue_running"])


def wait_running_on_backend(app, farm, job_id, stage):
    def check():
        run = running_stage(app, job_id, stage)
        return run if run is not None and emulator_running(farm, run) else None

    return wait_for(
        check, 60, interval=0.05, what=lambda: f"{stage} of job {job_id} to run\n{farm.logs()}"
    )


def node_models(app, name) -> dict:
    with app.app_context():
        db.session.expire_all()
        node = db.session.scalar(sa.select(WorkerNode).where(WorkerNode.name == name))
        return node.models if node and node.status == "online" else {}


def submissions(farm, prompt_id) -> dict[str, int]:
    """How often each backend was sent (and ran) a prompt id."""
    counts = {}
    for node, emulator in farm.emulators.items():
        stats = requests.get(f"{emulator.url}/emulator/stats", timeout=5).json()["prompts"]
        if prompt_id in stats:
            counts[node] = stats[prompt_id]["submitted"]
    return counts


def owner_status(app, production, job_id) -> dict:
    """GET /api/anime/generation/{id}/status as the job's owner."""
    with app.app_context():
        owner = db.session.get(User, production.owner_id)
        token = issue_access_token(app.config["SECRET_KEY"], owner.id, owner.role, 600)[0]
    reply = app.test_client().get(
        f"/api/anime/generation/{job_id}/status", headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 200, reply.json
    return reply.json


def job_events(settings, job_id) -> list:
    """Every event of the job's progress stream: what its SSE clients receive, in order."""
    return ProgressBus.from_url(settings.redis_url).read_after(job_id, "0")


def test_permanent_error_fails_the_job_with_the_node(app, farm, production, settings):
    options = {**FAST_OPTIONS, "extra_data": {"animate": {"emulator_fault": "error:KSampler"}}}
    job = wait_until_done(app, farm, submit(app, production, options=options))
    assert job.status == "failed"
    assert "KSampler" in job.error and "node 30" in job.error, job.error
    failed = [r for r in job.stage_runs if r.status == "failed"]
    assert {r.stage for r in failed} == {"animate"}
    assert all(r.attempt == 1 for r in failed), "a permanent error must not be retried"
    assert failed[0].error_detail["node_type"] == "KSampler"
    # Users see the node, not just text: in the status API ...
    report = owner_status(app, production, job.id)
    detail = next(s for s in report["stages"] if s["status"] == "failed")["error_detail"]
    assert detail["code"] == "comfy_execution_failed" and detail["node_type"] == "KSampler"
    assert detail["node_id"] == "30" and detail["exception_type"] and detail["message"]
    assert all(s["error_detail"] is None for s in report["stages"] if s["status"] == "succeeded")
    # ... and in the failed events of the live stream.
    events = job_events(settings, job.id)
    stage_failed = next(
        e.data for e in events if e.kind == "stage" and e.data["status"] == "failed"
    )
    job_failed = next(e.data for e in events if e.kind == "job" and e.data["status"] == "failed")
    for data in (stage_failed, job_failed):
        assert data["code"] == "comfy_execution_failed", data
        assert (data["node_id"], data["node_type"]) == ("30", "KSampler")
        assert "KSampler" in data["error"]


def test_transient_error_is_retried_and_succeeds(app, farm, production):
    options = {**FAST_OPTIONS, "extra_data": {"keyframe": {"emulator_fault": "oom:KSampler*1"}}}
    job = wait_until_done(app, farm, submit(app, production, options=options))
    assert job.status == "succeeded", (job.error, farm.logs())
    keyframes = [r for r in job.stage_runs if r.stage == "keyframe"]
    retried = [r for r in keyframes if r.attempt == 2]
    assert retried and all(r.status == "succeeded" for r in retried)
    first = [r for r in keyframes if r.attempt == 1 and r.status == "failed"]
    assert first and all("OutOfMemory" in r.error for r in first)


def test_killed_backend_is_retried_by_the_stage_itself(app, farm, production):
    """ComfyUI killed mid-render and started again: the stage's own transient path retries it
    as a new attempt (the sweeper would requeue the same attempt, much later)."""
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    farm.emulators[run.backend].kill()
    farm.restart_backend(run.backend)
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    attempts = sorted(
        (r for r in job.stage_runs if r.stage == "animate" and r.scene_id == run.scene_id),
        key=lambda r: r.attempt,
    )
    first, *later = attempts
    assert first.status == "failed" and first.error.startswith("transient"), first.error
    # The sweeper's rescue would have dispatched a new canvas.
    assert job.canvas_generation == 1, "the retry came from the sweeper, not the stage"
    assert later and later[-1].status == "succeeded"
    # One submission per attempt (a later one may move to the other node: routing avoids a
    # backend that failed the job twice).
    for attempt in later[:-1]:
        assert sum(submissions(farm, attempt.prompt_id).values()) <= 1
    assert sum(submissions(farm, later[-1].prompt_id).values()) == 1
    assert "DetachedInstanceError" not in farm.gpu_workers[run.backend].log_text()


def test_killed_pool_process_is_redelivered_and_reattaches(app, farm, production):
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    pid = int(run.lease_owner.split(":")[1])
    os.kill(pid, signal.SIGKILL)
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    assert submissions(farm, run.prompt_id) == {run.backend: 1}
    again = next(r for r in job.stage_runs if r.id == run.id)
    assert again.deliveries == 2 and again.status == "succeeded"


def test_a_stage_past_its_time_limit_takes_its_prompt_off_the_backend(app, farm, production):
    """ComfyUI runs a prompt to its end whether anyone still follows it: a stage that gives up
    on its prompt (here its soft time limit, the signal Celery's pool sends) interrupts it, so
    the GPU is not kept for a result nobody will collect."""
    options = {**FAST_OPTIONS, "stages": {"animate": {"steps": 150}}}
    job_id = submit(app, production, options=options)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    pid = int(run.lease_owner.split(":")[1])
    os.kill(pid, signal.SIGUSR1)  # what the pool sends at the soft time limit
    job = wait_until_done(app, farm, job_id)
    assert job.status == "failed", (job.error, farm.logs())
    failed = next(r for r in job.stage_runs if r.id == run.id)
    assert failed.error == "the stage ran past its time limit", failed.error
    url = farm.emulators[run.backend].url

    def ended() -> dict | None:
        entry = requests.get(f"{url}/history/{run.prompt_id}", timeout=5).json()
        return entry.get(run.prompt_id)

    entry = wait_for(ended, 60, what=lambda: f"prompt {run.prompt_id} to end\n{farm.logs()}")
    assert entry["status"]["messages"][-1][0] == "execution_interrupted", entry["status"]


def test_a_prompt_left_on_a_silent_backend_is_taken_off_when_it_answers(app, farm, production):
    """A backend that stops answering mid-render (its process frozen, as a network cut would
    leave it) fails the attempt, whose withdrawal cannot reach it either; once it answers
    again, its node's worker takes the left prompt off (test_left_prompts: a running one is
    interrupted) instead of letting it render for nobody. The stage's retry succeeds."""
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    emulator = farm.emulators[run.backend]
    os.kill(emulator.pid, signal.SIGSTOP)
    try:
        wait_for(
            lambda: f"could not withdraw prompt_id={run.prompt_id}" in farm.logs(),
            90,
            what=lambda: f"the attempt to give up on its silent backend\n{farm.logs()}",
        )
    finally:
        os.kill(emulator.pid, signal.SIGCONT)
    worker = farm.gpu_workers[run.backend]
    wait_for(
        lambda: f"left on node={run.backend}: {run.prompt_id}" in worker.log_text(),
        60,
        what=lambda: f"the node to take off prompt {run.prompt_id}\n{farm.logs()}",
    )
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    with app.app_context():
        left = db.session.get(StageRun, run.id)
        assert (left.status, left.prompt_left_at) == ("failed", None)


def test_killed_worker_is_recovered_by_the_sweeper(app, farm, production):
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    farm.gpu_workers[run.backend].kill()
    try:
        job = wait_until_done(app, farm, job_id, timeout=90)
        assert job.status == "succeeded", (job.error, farm.logs())
        assert submissions(farm, run.prompt_id) == {run.backend: 1}
    finally:
        farm.start_gpu_worker(run.backend)


def test_retry_reruns_only_the_failed_stage_and_what_follows(app, farm, production, tmp_path):
    with app.app_context():
        rare = Character(
            project_id=production.project_id,
            name="Rare",
            lora_name="rare_lora.safetensors",
            trigger_words="chr_rare",
        )
        db.session.add(rare)
        db.session.flush()
        scene = db.session.get(Scene, production.scene_ids[1])
        scene.characters.append(rare)
        db.session.commit()
    job = wait_until_done(app, farm, submit(app, production))
    assert job.status == "failed"
    assert "loras/rare_lora.safetensors" in job.error, job.error
    wait_for(
        lambda: (
            not any(
                r.status in ("running", "queued", "retrying")
                for r in job_row(app, job.id).stage_runs
            )
        ),
        60,
        what=lambda: f"every stage to end\n{farm.logs()}",
    )
    # The failed scene's later stages and the episode's are skipped; the other scenes finish.
    ended = {(r.stage, r.scene_id): r.status for r in job_row(app, job.id).stage_runs}
    failed_scene = production.scene_ids[1]
    assert ended.pop(("keyframe", failed_scene)) == "failed"
    skipped = {key for key, status in ended.items() if status == "skipped"}
    assert skipped == {
        ("animate", failed_scene),
        ("interpolate", failed_scene),
        ("compile", None),
        ("mix", None),
    }
    assert {status for key, status in ended.items() if key not in skipped} == {"succeeded"}
    models = {**DEFAULT_MODELS, "loras": [*DEFAULT_MODELS["loras"], "rare_lora.safetensors"]}
    farm.restart_node("node-b", tmp_path / "node-b", models=models)
    wait_for(
        lambda: "rare_lora.safetensors" in node_models(app, "node-b").get("loras", []),
        60,
        what="node-b to register its new LoRA",
    )
    with app.app_context():
        prepare_retry(db.session, db.session.get(Job, job.id))
        db.session.commit()
        dispatch_job(job.id)
    job = wait_until_done(app, farm, job.id)
    assert job.status == "succeeded", (job.error, farm.logs())
    runs = Counter((r.stage, r.scene_id) for r in job.stage_runs)
    # Only the failed keyframe ran twice; the stages after it had not run yet, and nothing of
    # the other scenes was rendered again.
    assert runs.pop(("keyframe", failed_scene)) == 2
    assert set(runs.values()) == {1}
    assert all(
        r.status == "succeeded"
        for r in job.stage_runs
        if not (r.stage == "keyframe" and r.scene_id == failed_scene and r.attempt == 1)
    )


def cancel_and_wait_stopped(app, farm, job_id: int) -> None:
    """Cancel a job as the API does, and wait until none of its stages is active."""
    with app.app_context():
        request_cancel(db.session, db.session.get(Job, job_id))
        db.session.commit()
        stop_job(job_id)
    wait_for(
        lambda: (
            not any(
                r.status in ("running", "queued", "retrying")
                for r in job_row(app, job_id).stage_runs
            )
        ),
        60,
        what=lambda: f"job {job_id}'s stages to stop\n{farm.logs()}",
    )


def test_cancel_interrupts_the_running_prompt(app, farm, production):
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    cancel_and_wait_stopped(app, farm, job_id)
    job = job_row(app, job_id)
    assert job.status == "cancelled"
    history = requests.get(
        f"{farm.emulators[run.backend].url}/history/{run.prompt_id}", timeout=5
    ).json()
    assert history[run.prompt_id]["status"]["messages"][-1][0] == "execution_interrupted"
    assert not [
        r for r in job.stage_runs if r.stage in ("compile", "mix") and r.status == "succeeded"
    ]


def test_a_prompt_interrupted_at_the_comfyui_is_rendered_again(app, farm, production):
    """Someone at the backend's own ComfyUI presses Cancel (a global interrupt, no prompt
    named) while Tower's prompt runs: the stage runs again instead of failing the job."""
    job_id = submit(app, production, options=SLOW_ANIMATE)
    run = wait_running_on_backend(app, farm, job_id, "animate")
    requests.post(f"{farm.emulators[run.backend].url}/interrupt", timeout=5).raise_for_status()
    job = wait_until_done(app, farm, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    with app.app_context():
        interrupted = db.session.get(StageRun, run.id)
        assert interrupted.status == "failed"
        assert "interrupted" in interrupted.error, interrupted.error


def test_messages_lost_with_redis_are_sent_again(app, farm, production, settings):
    """Redis restarting empty loses queued messages; the sweeper finds and resends them."""
    import redis as redis_lib

    nodes = list(farm.gpu_workers)
    for node in nodes:
        farm.gpu_workers[node].stop()
    try:
        job_id = submit(app, production)
        broker = redis_lib.Redis.from_url(settings.broker_url)
        lost = list(broker.scan_iter(match=f"{settings.broker_key_prefix}gpu*"))
        assert lost, "the job's first stages should be waiting in the broker"
        broker.delete(*lost)
    finally:
        for node in nodes:
            farm.start_gpu_worker(node)
    job = wait_until_done(app, farm, job_id, timeout=120)
    assert job.status == "succeeded", (job.error, farm.logs())


def test_messages_stranded_in_a_queue_nothing_consumes_are_sent_again(
    app, farm, production, settings
):
    """A stage routed to a node queue no worker consumes (its node went away, or its worker
    consumes another name) is rescued by the sweeper instead of waiting forever."""
    import redis as redis_lib

    nodes = list(farm.gpu_workers)
    for node in nodes:
        farm.gpu_workers[node].stop()
    try:
        job_id = submit(app, production)
        broker = redis_lib.Redis.from_url(settings.broker_url)
        prefix = settings.broker_key_prefix
        waiting = [
            k.decode() for k in broker.scan_iter(match=f"{prefix}gpu*") if broker.type(k) == b"list"
        ]
        assert waiting, "the job's first stages should be waiting in the broker"
        for key in waiting:
            broker.rename(key, key.replace(f"{prefix}gpu", f"{prefix}gpu.nobody", 1))
    finally:
        for node in nodes:
            farm.start_gpu_worker(node)
    job = wait_until_done(app, farm, job_id, timeout=120)
    assert job.status == "succeeded", (job.error, farm.logs())
    assert job.canvas_generation >= 2, "the sweeper should have sent the job again"


def test_more_urgent_jobs_are_taken_first(app, farm, production):
    nodes = list(farm.gpu_workers)
    for node in nodes:
        farm.gpu_workers[node].stop()
    try:
        relaxed = submit(app, production, kind="image", priority=1, scene_ids=production.scene_ids)
        urgent = submit(app, production, kind="image", priority=9, scene_ids=production.scene_ids)
    finally:
        for node in nodes:
            farm.start_gpu_worker(node)
    for job_id in (relaxed, urgent):
        assert wait_until_done(app, farm, job_id).status == "succeeded", farm.logs()
    # Four slots take the first four keyframes at once, so compare the jobs' mean start.
    started = {
        job_id: statistics.mean(r.started_at.timestamp() for r in job_row(app, job_id).stage_runs)
        for job_id in (relaxed, urgent)
    }
    assert started[urgent] < started[relaxed]
