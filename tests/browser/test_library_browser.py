"""The dashboard's QC report and Models page in headless Chromium on a real farm."""

from __future__ import annotations

from shared.db import db
from shared.models import Character
from tests.browser.test_dashboard_browser import log_in
from tests.tasks.test_pipeline import submit, wait_until_done


def test_job_page_shows_the_qc_report_and_models_page_the_missing_lora(
    page, base_url, operator, farm, app, production, screenshots, csp_violations
):
    with app.app_context():
        ghost = Character(
            project_id=production.project_id, name="Ghost", lora_name="ghost_v9.safetensors"
        )
        db.session.add(ghost)
        db.session.commit()
        ghost_id = ghost.id
    job = wait_until_done(app, farm, submit(app, production))
    assert job.status == "succeeded", (job.error, farm.logs())
    log_in(page, base_url, operator)

    page.goto(f"{base_url}/dashboard/jobs/{job.id}")
    qc = page.locator("section#qc")
    assert "passed" in qc.locator("h2").inner_text()
    checks = qc.locator("tr[data-check]")
    assert checks.count() >= 3
    assert all(
        checks.nth(i).locator(".badge").inner_text() == "pass" for i in range(checks.count())
    )
    page.screenshot(path=str(screenshots / "job-qc.png"), full_page=True)

    page.click("nav >> text=Models")
    page.wait_for_url(lambda url: url.endswith("/dashboard/models"))
    warning = page.locator(f'#lora-warnings li[data-character-id="{ghost_id}"]')
    assert "ghost_v9.safetensors" in warning.inner_text()
    loras = page.locator('table[data-kind="loras"]').inner_text()
    assert "character_v1.safetensors" in loras and "node-a" in loras
    page.screenshot(path=str(screenshots / "models.png"), full_page=True)
    assert csp_violations == []
