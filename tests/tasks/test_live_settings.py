"""A farm setting changed through the API reaches a running Celery worker within seconds, with
no restart: a GPU stage waiting for a capable backend under the default node_wait_s (10
minutes) fails as soon as an admin lowers it."""

from __future__ import annotations

import sqlalchemy as sa

from comfy_emulator.catalog import load_recorded_specs
from comfy_emulator.inventory import DEFAULT_MODELS
from shared.db import db
from shared.models import StageRun
from shared.models.columns import utcnow
from tasks.pipeline.workflow_store import seed_default_workflows
from tests import factories
from tests.support.processes import wait_for
from tests.tasks.conftest import job_row, truncate
from tests.tasks.test_pipeline import submit
from tests.web.conftest import Api, token_for


def add_sleeping_node(app) -> None:
    """A registered node that could run every stage but is draining, so stages wait for it."""
    with app.app_context():
        seed_default_workflows(db.session)
        factories.make_worker_node(
            db.session,
            name="sleeper",
            status="draining",
            node_classes=sorted(load_recorded_specs()),
            models=DEFAULT_MODELS,
            last_heartbeat=utcnow(),
        )
        db.session.commit()


def waiting_since(app, job_id: int):
    with app.app_context():
        return db.session.scalar(sa.select(StageRun.waiting_since).where(StageRun.job_id == job_id))


def admin_api(app) -> Api:
    with app.app_context():
        admin = factories.make_user(db.session, role="admin")
        db.session.commit()
        return Api(app.test_client(), token_for(app, admin))


def test_a_lowered_node_wait_reaches_the_running_worker(app, celery_worker, production):
    add_sleeping_node(app)
    pid = celery_worker.pid
    try:
        job_id = submit(app, production, kind="image", scene_ids=production.scene_ids[:1])
        wait_for(lambda: waiting_since(app, job_id), 60, what="the keyframe to wait for a node")
        # Two looks at the fleet under the default: the stage waits on, it does not fail.
        wait_for(
            lambda: celery_worker.log_text().count("for a capable backend") >= 2,
            60,
            what=lambda: f"the worker to look twice\n{celery_worker.log_text()[-3000:]}",
        )
        assert job_row(app, job_id).status in ("queued", "running")
        response = admin_api(app).request("PUT", "/api/settings/node_wait_s", json={"value": 1})
        assert response.status_code == 200, response.get_json()
        job = wait_for(
            lambda: job_row(app, job_id).status == "failed" and job_row(app, job_id),
            60,
            what=lambda: f"the stage to give up\n{celery_worker.log_text()[-3000:]}",
        )
        keyframe = next(r for r in job.stage_runs if r.stage == "keyframe")
        assert keyframe.error.startswith("no capable backend online for 1 s"), keyframe.error
        assert "sleeper (draining)" in keyframe.error
        assert celery_worker.pid == pid and celery_worker.popen.poll() is None
    finally:
        truncate(app)
        with app.app_context():
            db.session.execute(sa.text("TRUNCATE farm_settings, setting_changes"))
            db.session.commit()
