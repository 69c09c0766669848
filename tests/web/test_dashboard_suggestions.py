"""The dashboard's page of a project's Echo Brain suggestions."""

from __future__ import annotations

from shared.models import Suggestion
from tests.web.test_dashboard import log_in


def test_a_projects_suggestions_are_listed_with_their_answers(client, world, db_session):
    project = world.rows["project"]
    for feature, output in (("brainstorm", {"premises": ["a city that forgets"]}),
                            ("scenes", {"scenes": []})):  # fmt: skip
        db_session.add(Suggestion(owner_id=world.users["owner"].id, project_id=project.id,
                                  feature=feature, input={"topic": "memory"}, model="test-model",
                                  output=output, latency_ms=1200))  # fmt: skip
    db_session.commit()
    log_in(client, world.users["operator"])
    page = client.get(f"/dashboard/projects/{project.id}/suggestions").get_data(as_text=True)
    assert page.count("data-suggestion-id=") == 2
    assert "a city that forgets" in page and "1200 ms" in page and project.name in page
    only = client.get(f"/dashboard/projects/{project.id}/suggestions?feature=scenes")
    assert only.get_data(as_text=True).count("data-suggestion-id=") == 1
    jobs = client.get(f"/dashboard/?project_id={project.id}").get_data(as_text=True)
    assert f"/dashboard/projects/{project.id}/suggestions" in jobs
    assert client.get("/dashboard/projects/999999/suggestions").status_code == 404
