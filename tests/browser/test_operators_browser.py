"""What operators see and trace (issue 15), in headless Chromium on a real farm with Flower:
tasks labelled in Flower and linked from each stage row, the sweeper kept out of Flower, why a
stage waits, production names and failure colours, cancelling after a confirmation page,
failed stages grouped and retried by group, offline nodes removed instead of drained."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from shared.db import db
from shared.models import WorkerNode
from tests import factories
from tests.browser.test_dashboard_browser import FAIL_ONCE, SLOWER, log_in
from tests.support.processes import wait_for
from tests.tasks.conftest import FAST_OPTIONS, job_row
from tests.tasks.test_pipeline import submit, wait_until_done
from tests.web.test_fleet_flower import CREDENTIALS, flower_env, start_flower

# A transient failure (out of memory) on the first keyframe prompt only: retried on its node.
OOM_ONCE = {**FAST_OPTIONS, "extra_data": {"keyframe": {"emulator_fault": "oom:KSampler*1"}}}
# Every animate prompt fails alike: failed stages that group, and fail again when retried.
FAIL_ALWAYS = {**FAST_OPTIONS, "extra_data": {"animate": {"emulator_fault": "error:KSampler"}}}


@pytest.fixture(scope="module")
def flower(settings, farm, app, log_dir, celery_app) -> Iterator[str]:
    """Flower on this farm's broker, listening before any job is sent; the dashboard links to
    it."""
    process, url = start_flower(
        flower_env(settings, FLOWER_BASIC_AUTH=":".join(CREDENTIALS)), log_dir / "flower-ops.log"
    )

    def hears() -> bool:
        ping = celery_app.send_task("tower.ping", queue="control")
        ping.get(timeout=30)
        tasks = requests.get(f"{url}/api/tasks", auth=CREDENTIALS, timeout=5).json()
        return ping.id in tasks

    before = app.config["TOWER_FLOWER_URL"]
    try:
        wait_for(hears, 60, interval=0.5, what="flower to hear task events")
        app.config["TOWER_FLOWER_URL"] = f"{url}/"
        yield url
    finally:
        app.config["TOWER_FLOWER_URL"] = before
        process.stop()


def flower_tasks(url: str, **query: str) -> dict[str, dict]:
    """Flower's tasks matching a query (its API, as its task list searches)."""
    reply = requests.get(f"{url}/api/tasks", params=query, auth=CREDENTIALS, timeout=10)
    reply.raise_for_status()
    return reply.json()


def test_flower_shows_and_searches_each_tasks_job_stage_scene_and_backend(
    page, base_url, operator, farm, app, production, flower, screenshots
):
    job_id = wait_until_done(app, farm, submit(app, production, options=OOM_ONCE), timeout=240).id
    job = job_row(app, job_id)
    assert job.status == "succeeded", (job.error, farm.logs())
    found = wait_for(
        lambda: (
            (t := flower_tasks(flower, search=f"kwargs:job_id={job_id}")) and len(t) >= 10 and t
        ),
        30,
        what=f"flower to list job {job_id}'s tasks",
    )
    runs = {r.celery_task_id: r for r in job.stage_runs}
    orders = dict(zip(production.scene_ids, (1, 2, 3), strict=True))
    for task_id, task in found.items():
        run = runs[task_id]
        assert task["name"] == f"render.{run.stage}"
        assert f"'stage': '{run.stage}'" in task["kwargs"]
        scene = orders.get(run.scene_id)
        assert f"'scene': {scene}" in task["kwargs"], task["kwargs"]
    # The retried keyframe went back to its node: its message names the backend.
    wait_for(
        lambda: any(
            t["name"] == "render.keyframe"
            for t in flower_tasks(
                flower, search=f"kwargs:job_id={job_id} kwargs:backend=node-a"
            ).values()
        ),
        20,
        what="flower to show the retried keyframe's backend",
    )
    keyframes = flower_tasks(flower, search="kwargs:stage=keyframe")
    assert {t for t in found if found[t]["name"] == "render.keyframe"} <= set(keyframes)

    # The sweeper ran all along (beat, every 5 s) and left nothing in Flower's task list.
    wait_for(
        lambda: farm.cpu_worker.log_text().count("tower.sweep") >= 3,
        30,
        what="the sweeper to run",
    )
    listed = flower_tasks(flower)
    assert not [t for t in listed.values() if t["name"] == "tower.sweep"]
    assert flower_tasks(flower, taskname="tower.sweep") == {}

    # Each stage row of the job page shows its run id, linked to its task in Flower.
    log_in(page, base_url, operator)
    page.goto(f"{base_url}/dashboard/jobs/{job_id}")
    keyframe = next(r for r in job.stage_runs if r.stage == "keyframe" and r.attempt == 2)
    link = page.locator(f'tr[data-stage-id="{keyframe.id}"] a.flower')
    assert link.inner_text() == str(keyframe.id)
    assert link.get_attribute("href") == f"{flower}/task/{keyframe.celery_task_id}"
    assert page.locator("h1 .production").inner_text() == "Neon · Episode 1: Pilot"
    assert page.locator("section.scene h2").first.inner_text().startswith("Scene 1")
    assert page.locator("#download").get_attribute("download") == "neon-ep1-pilot.mp4"
    page.screenshot(path=str(screenshots / "ops-job-flower-links.png"), full_page=True)
    context = page.context.browser.new_context(
        http_credentials=dict(zip(("username", "password"), CREDENTIALS, strict=True))
    )
    try:
        flower_page = context.new_page()
        reply = flower_page.goto(link.get_attribute("href"))
        assert reply.status == 200
        text = flower_page.content()
        assert keyframe.celery_task_id in text
        assert "render.keyframe" in text and f"'job_id': {job_id}" in text
        flower_page.screenshot(path=str(screenshots / "ops-flower-task.png"), full_page=True)
    finally:
        context.close()


def test_a_waiting_stage_says_why_and_cancelling_asks_first(
    page, base_url, operator, farm, app, production, screenshots, csp_violations
):
    log_in(page, base_url, operator)
    with app.app_context():
        db.session.execute(sa.update(WorkerNode).values(status="draining"))
        db.session.commit()
    try:
        job_id = submit(app, production, options=SLOWER)
        drained = "every node that has what it needs is drained (node-a)"

        def says_why() -> bool:
            # A GPU worker holds the stage for a moment each time it looks for a node: the page
            # shows it queued, with its reason, between those looks.
            page.goto(f"{base_url}/dashboard/jobs/{job_id}")
            reasons = page.locator('[data-role="waiting"]').all_inner_texts()
            return drained in reasons and "waiting for keyframe of scene 1" in reasons

        wait_for(says_why, 30, interval=0.5, what="the page to say why the job waits")
        page.screenshot(path=str(screenshots / "ops-waiting.png"), full_page=True)

        page.click("#cancel")
        page.wait_for_url(f"**/dashboard/jobs/{job_id}/cancel")
        assert job_row(app, job_id).status in ("queued", "running"), "cancelled unconfirmed"
        page.screenshot(path=str(screenshots / "ops-cancel-confirm.png"), full_page=True)
        page.click("#confirm-cancel button[type=submit]")
        page.wait_for_url(f"**/dashboard/jobs/{job_id}")
        assert page.locator("section.head").get_attribute("data-status") == "cancelled"
        assert job_row(app, job_id).status == "cancelled"
    finally:
        with app.app_context():
            db.session.execute(sa.update(WorkerNode).values(status="online"))
            db.session.commit()
    assert csp_violations == []


def test_jobs_list_names_productions_and_colours_failures(
    page, base_url, operator, farm, app, production, screenshots
):
    failed = wait_until_done(app, farm, submit(app, production, options=FAIL_ONCE), timeout=240)
    assert failed.status == "failed"
    with app.app_context():
        for status in ("cancelled", "succeeded"):
            factories.make_job(
                db.session,
                project_id=production.project_id,
                owner_id=production.owner_id,
                episode_id=production.episode_id,
                kind="episode",
                status=status,
            )
        db.session.commit()
    log_in(page, base_url, operator)
    page.goto(f"{base_url}/dashboard/")
    rows = {
        status: page.locator(f'#jobs tr[data-status="{status}"]').first
        for status in ("failed", "cancelled", "succeeded")
    }
    colours = {
        status: row.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor")
        for status, row in rows.items()
    }
    assert len(set(colours.values())) == 3, colours
    badges = {
        status: row.locator(".badge").evaluate("b => getComputedStyle(b).backgroundColor")
        for status, row in rows.items()
    }
    assert len(set(badges.values())) == 3, badges
    failed_row = page.locator(f'#jobs tr[data-job-id="{failed.id}"]')
    assert "Neon · ep 1: Pilot" in failed_row.locator(".production").inner_text()
    stage = failed_row.locator('[data-role="stage"]').inner_text()
    assert re.fullmatch(r"failed at animate of scene [123]", stage), stage
    page.screenshot(path=str(screenshots / "ops-jobs-colours.png"), full_page=True)


def settled(app, farm, job_id: int):
    """The job once it ended and its other scenes ran on to their own ends."""
    return wait_for(
        lambda: (
            (job := job_row(app, job_id)).status in ("failed", "succeeded", "cancelled")
            and all(r.status not in ("queued", "running", "retrying") for r in job.stage_runs)
            and job
        ),
        240,
        what=lambda: f"job {job_id} to settle\n{farm.logs()}",
    )


def test_failed_stages_are_grouped_filtered_and_retried_as_a_group(
    page, base_url, operator, farm, app, production, screenshots
):
    jobs = [settled(app, farm, submit(app, production, options=FAIL_ALWAYS)) for _ in range(2)]
    assert [j.status for j in jobs] == ["failed", "failed"]
    failed = {r.id for j in jobs for r in j.stage_runs if r.status == "failed"}
    assert all(any(r.status == "failed" for r in j.stage_runs) for j in jobs)
    log_in(page, base_url, operator)
    page.goto(f"{base_url}/dashboard/failed?owner_id={production.owner_id}")
    group = page.locator("section.group", has=page.locator(f'tr[data-stage-id="{min(failed)}"]'))
    assert group.get_attribute("data-count") == str(len(failed)), group.inner_text()
    assert "KSampler" in group.locator("p.msg").inner_text()
    assert {
        int(i)
        for i in group.locator("input[name=stage_id]").evaluate_all(
            "inputs => inputs.map(i => i.value)"
        )
    } == failed
    page.goto(f"{base_url}/dashboard/failed?owner_id=999999")
    assert page.locator("#nothing-failed").count() == 1
    page.goto(f"{base_url}/dashboard/failed?project_id={production.project_id}")
    page.screenshot(path=str(screenshots / "ops-failed-groups.png"), full_page=True)
    group.locator("form.retry-group button").click()
    page.wait_for_selector("#retried")
    assert page.locator("#retried").inner_text().count("queued") == 2
    assert "project_id=" in page.url  # back on the filtered page
    for job in jobs:
        again = settled(app, farm, job.id)
        before = {(r.stage, r.scene_id) for r in job.stage_runs if r.status == "failed"}
        retried = {(r.stage, r.scene_id) for r in again.stage_runs if r.attempt == 2}
        assert before <= retried, farm.logs()


def test_an_offline_node_is_removed_not_drained(page, base_url, operator, farm, app, screenshots):
    with app.app_context():
        db.session.add(
            WorkerNode(name="old-node", hostname="old", comfyui_url="http://x", status="offline")
        )
        db.session.commit()
    log_in(page, base_url, operator)
    row = page.locator('#nodes tr[data-node="old-node"]')
    row.wait_for()
    assert row.locator('button[data-node-action="drain"]').count() == 0
    online = page.locator('#nodes tr[data-node="node-a"]')
    assert online.locator('button[data-node-action="remove"]').count() == 0
    page.screenshot(path=str(screenshots / "ops-nodes-offline.png"), full_page=True)
    row.locator('button[data-node-action="remove"]').click()
    row.wait_for(state="detached")
    page.wait_for_timeout(3500)  # a refresh from /api/fleet/nodes later, still gone
    assert page.locator('#nodes tr[data-node="old-node"]').count() == 0
    with app.app_context():
        assert db.session.scalar(sa.select(WorkerNode).where(WorkerNode.name == "old-node")) is None
