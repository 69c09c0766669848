"""The stage registry is the one declaration of a stage: the database, Celery and the workflow
library follow it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shared.models import Job, StageRun, stage_kinds, workflow_kinds
from shared.stages import SCENE_CLIP, STAGE_NAMES, STAGES, TEMPLATE_STAGES, downstream_names
from tests import factories


def test_the_database_knows_every_stage_and_template(db_session):
    names = set(db_session.scalars(sa.select(stage_kinds.c.name)))
    assert names >= set(STAGE_NAMES)
    rows = db_session.execute(sa.select(workflow_kinds.c.name, workflow_kinds.c.stage))
    templates = dict(rows.all())
    assert templates.items() >= TEMPLATE_STAGES.items()


def test_a_stage_the_registry_does_not_declare_is_refused(db_session):
    job = factories.make_job(db_session)
    db_session.add(StageRun(job_id=job.id, stage="upscale-by-hand", attempt=1))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_every_stage_has_its_task_and_route():
    from celeryconfig import task_routes
    from tasks.app import app
    from tasks.render import STAGE_TASKS

    for kind in STAGES:
        task = app.tasks[kind.task_name]
        assert STAGE_TASKS[kind.name].name == kind.task_name
        assert (task.queue, task.time_limit, task.soft_time_limit, task.max_retries) == (
            kind.queue.value,
            kind.hard_limit_s,
            kind.soft_limit_s,
            None,
        )
        assert task_routes[kind.task_name] == {"queue": kind.queue.value}


def test_stages_take_only_from_earlier_stages_and_templates_exist():
    from workers.workflows import default_templates

    shipped = default_templates()
    for index, kind in enumerate(STAGES):
        if kind.takes is not None and kind.takes.stage != SCENE_CLIP:
            assert kind.takes.stage in STAGE_NAMES[:index], kind.name
        for name in kind.templates:
            assert name in shipped and shipped[name].stage == name
        assert kind.is_gpu == bool(kind.templates)


def test_downstream_follows_the_pipeline_order():
    assert downstream_names("keyframe") == STAGE_NAMES[1:]
    assert downstream_names(STAGE_NAMES[-1]) == ()


def test_every_registry_stage_can_be_a_row(db_session):
    job = factories.make_job(db_session)
    for name in STAGE_NAMES:
        db_session.add(StageRun(job_id=job.id, stage=name, attempt=1))
    db_session.flush()
    assert {r.stage for r in db_session.get(Job, job.id).stage_runs} == set(STAGE_NAMES)
