"""The mix on a real farm never substitutes: a mood the library lost since the scene was
written fails the mix, naming the scene and the moods it knows."""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import db
from shared.models import LibraryEntry
from tasks.pipeline.library_store import add_demo_library
from tests.tasks.test_pipeline import submit, wait_until_done
from workers.storage import LocalStore


def test_a_mood_the_library_lost_fails_the_mix_listing_the_known_ones(
    app, farm, production, settings
):
    with app.app_context():
        add_demo_library(db.session, LocalStore(settings.artifact_root))
        db.session.execute(sa.delete(LibraryEntry).where(LibraryEntry.name == "tense loop"))
        db.session.commit()
    job = wait_until_done(app, farm, submit(app, production))
    assert job.status == "failed", farm.logs()
    mix = next(r for r in job.stage_runs if r.stage == "mix")
    assert mix.status == "failed"
    assert "scenes[1].mood: unknown mood tense; known: action" in mix.error
    assert all(r.status == "succeeded" for r in job.stage_runs if r.stage != "mix")
