"""Deleting a project removes the files its jobs rendered, once the delete has committed; a
refused delete leaves them, and other projects' files are never touched."""

from __future__ import annotations

from pathlib import Path

from tests import factories


def rendered_file(app, job_id: int, name: str) -> Path:
    """A file where a stage of the job writes its outputs."""
    path = app.config["SETTINGS"].artifact_root / f"jobs/{job_id}/scene-1/keyframe/a1/{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG rendered")
    return path


def test_deleting_a_project_removes_its_rendered_files(app, as_role, world, db_session):
    job = world.rows["job"]
    output = rendered_file(app, job.id, "keyframe.png")
    asset = app.config["SETTINGS"].artifact_root / world.rows["asset"].uri
    other_job = factories.make_job(
        db_session, project_id=world.rows["public"].id, owner_id=world.users["admin"].id
    )
    db_session.commit()
    kept = rendered_file(app, other_job.id, "keyframe.png")
    assert output.is_file() and asset.is_file()

    response = as_role("owner").delete(f"/api/anime/projects/{world.rows['project'].id}")

    assert response.status_code == 204, response.get_json()
    assert not output.exists() and not output.parents[3].exists()  # jobs/<id> is gone
    assert not asset.exists()
    assert kept.is_file()


def test_a_refused_delete_keeps_the_files(app, as_role, world, db_session):
    project = world.rows["project"]
    running = factories.make_job(
        db_session, project_id=project.id, owner_id=world.users["owner"].id, status="running"
    )
    db_session.commit()
    output = rendered_file(app, running.id, "keyframe.png")
    asset = app.config["SETTINGS"].artifact_root / world.rows["asset"].uri

    response = as_role("owner").delete(f"/api/anime/projects/{project.id}")

    assert response.status_code == 409, response.get_json()
    assert output.is_file() and asset.is_file()
