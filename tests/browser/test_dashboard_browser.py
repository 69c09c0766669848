"""The dashboard in headless Chromium on a real farm: log in as an operator, watch a job's
progress bar reach done, retry a failed stage with its button, drain a node."""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import db
from shared.models import StageRun, WorkerNode
from tests.tasks.conftest import FAST_OPTIONS, job_row
from tests.tasks.test_pipeline import submit, wait_until_done

# A permanent error on the farm's first animate prompt only (the budget is per backend).
FAIL_ONCE = {**FAST_OPTIONS, "extra_data": {"animate": {"emulator_fault": "error:KSampler*1"}}}
SLOWER = {**FAST_OPTIONS, "stages": {"animate": {"steps": 20}}}
JOB_TIMEOUT_MS = 240_000  # a loaded machine (several test sessions on 2 cores)


def log_in(page, base_url, operator) -> None:
    """Go to the dashboard, get sent to the login form, log in, come back."""
    page.goto(f"{base_url}/dashboard/nodes")
    assert "/dashboard/login?next=" in page.url, page.url
    page.fill("input[name=email]", operator.email)
    page.fill("input[name=password]", operator.password)
    page.click("form#login button[type=submit]")
    page.wait_for_url(lambda url: url.endswith("/dashboard/nodes"))
    page.wait_for_selector('#nodes tr[data-node="node-a"]')


def test_operator_watches_retries_and_drains(
    page, base_url, operator, farm, app, production, screenshots, csp_violations
):
    log_in(page, base_url, operator)

    # 1. A job's progress bar, live from the events stream, reaches done.
    job_id = submit(app, production, options=SLOWER)
    page.goto(f"{base_url}/dashboard/")
    row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
    assert row.get_attribute("data-status") in {"queued", "running"}
    page.evaluate("window.__loadedOnce = true")
    page.wait_for_function(
        """id => { const row = document.querySelector(`#jobs tr[data-job-id="${id}"]`);
                   const bar = row.querySelector('[data-role="progress"]');
                   return bar.dataset.progress !== undefined && +bar.dataset.progress > 0
                          && +bar.dataset.progress < 100; }""",
        arg=job_id,
        timeout=JOB_TIMEOUT_MS,
        polling=100,
    )
    page.screenshot(path=str(screenshots / "jobs-running.png"), full_page=True)
    page.wait_for_function(
        """id => document.querySelector(`#jobs tr[data-job-id="${id}"]`).dataset.status
                 === 'succeeded'""",
        arg=job_id,
        timeout=JOB_TIMEOUT_MS,
    )
    assert row.locator('[data-role="progress"] em').inner_text() == "100%"
    assert page.evaluate("window.__loadedOnce") is True, "the page reloaded"
    page.screenshot(path=str(screenshots / "jobs-done.png"), full_page=True)
    page.goto(f"{base_url}/dashboard/jobs/{job_id}")
    assert page.locator("video.episode").count() == 1
    assert page.locator(".previews img").count() == len(production.scene_ids)
    page.screenshot(path=str(screenshots / "job-detail.png"), full_page=True)

    # 2. A failed stage is retried with its button; the outcome shows without a reload.
    failed_job = wait_until_done(app, farm, submit(app, production, options=FAIL_ONCE))
    assert failed_job.status == "failed", failed_job.error
    failed = next(r for r in failed_job.stage_runs if r.status == "failed")
    page.goto(f"{base_url}/dashboard/failed")
    row = page.locator(f'table.failed tr[data-stage-id="{failed.id}"]')
    assert "KSampler" in page.locator("section.group", has=row).inner_text()
    page.evaluate("window.__loadedOnce = true")
    page.screenshot(path=str(screenshots / "failed-before-retry.png"), full_page=True)
    row.locator('button[data-action="retry"]').click()
    outcome = row.locator(".outcome")
    page.wait_for_function(
        """id => /^job (succeeded|failed|cancelled)/.test(document.querySelector(
             `table.failed tr[data-stage-id="${id}"] .outcome`).textContent)""",
        arg=failed.id,
        timeout=JOB_TIMEOUT_MS,
        polling=200,
    )
    assert outcome.inner_text() == "job succeeded", (outcome.inner_text(), farm.logs())
    assert page.evaluate("window.__loadedOnce") is True, "the page reloaded"
    page.screenshot(path=str(screenshots / "failed-after-retry.png"), full_page=True)
    assert job_row(app, failed_job.id).status == "succeeded"
    with app.app_context():
        again = db.session.scalar(
            sa.select(StageRun).where(
                StageRun.job_id == failed_job.id,
                StageRun.stage == failed.stage,
                StageRun.scene_id == failed.scene_id,
                StageRun.attempt == failed.attempt + 1,
            )
        )
        assert again is not None and again.status == "succeeded"

    # 3. A node is drained from its row and stays drained through the page's refreshes.
    page.goto(f"{base_url}/dashboard/nodes")
    node_row = page.locator('#nodes tr[data-node="node-a"]')
    node_row.locator('button[data-node-action="drain"]').click()
    page.wait_for_selector('#nodes tr[data-node="node-a"][data-status="draining"]')
    page.wait_for_timeout(3500)  # one refresh from /api/fleet/nodes later
    assert node_row.get_attribute("data-status") == "draining"
    assert node_row.locator('button[data-node-action="undrain"]').count() == 1
    page.screenshot(path=str(screenshots / "nodes-drained.png"), full_page=True)
    with app.app_context():
        status = db.session.scalar(sa.select(WorkerNode.status).where(WorkerNode.name == "node-a"))
    assert status == "draining"
    node_row.locator('button[data-node-action="undrain"]').click()
    page.wait_for_selector('#nodes tr[data-node="node-a"][data-status="online"]')

    page.goto(f"{base_url}/dashboard/queues")
    page.wait_for_selector('#queues tr[data-queue="gpu.node-a"]')
    assert page.locator("#flower").get_attribute("href").endswith(":5555/")
    page.screenshot(path=str(screenshots / "queues.png"), full_page=True)
    # Everything above ran under the Content-Security-Policy, with nothing refused.
    assert csp_violations == []


def test_api_docs_render_from_local_assets(page, base_url, screenshots, csp_violations):
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base_url) else outside.append(r.url))
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".opblock-summary-path")
    assert page.locator('.opblock-summary-path[data-path="/auth/login"]').count() == 1
    page.screenshot(path=str(screenshots / "docs.png"))
    assert csp_violations == [] and outside == []
