"""A GPU stage's template is read from its workflow row once per process: rows never change
once written, so later stages of the same workflow cost no query."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tasks.pipeline.workflow_store import template_by_id, template_of
from tests.factories import make_workflow
from tests.support.statements import statements_run


def test_a_template_is_read_once_and_the_same_after(engine):
    with Session(engine) as session, session.begin():
        workflow = make_workflow(session, graph={"1": {"class_type": "X", "inputs": {}}})
        session.flush()
        first = template_by_id(session, workflow.id)
        assert first == template_of(workflow)
        session.expunge_all()  # a later stage's session has not loaded the row
        with statements_run(session.get_bind()) as statements:
            again = template_by_id(session, workflow.id)
        assert again is first
        assert statements == []
        session.execute(sa.delete(type(workflow)).where(type(workflow).id == workflow.id))
