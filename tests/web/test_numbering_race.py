"""Two requests numbering at "last + 1" at once (two integrated submissions into one project,
two continuations accepted together) take turns: each gets its own next number, where both
took the same and one was refused by the unique constraint. Real connections, committed rows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from shared.db import db
from shared.models import Episode, Project, Scene, User
from tests import factories
from tests.support.lock_waits import run_first_paused, wait_until_blocked_or_done
from web.production import next_episode_number, next_scene_order


@pytest.fixture
def episode_ids(app: Flask) -> Iterator[dict[str, int]]:
    """A committed project with episode 1 holding one scene (order 0); deleted afterwards."""
    with app.app_context():
        episode = factories.make_episode(db.session, number=1)
        factories.make_scene(db.session, episode_id=episode.id, order=0)
        project = db.session.get(Project, episode.project_id)
        ids = {"project": project.id, "episode": episode.id, "owner": project.owner_id}
        db.session.commit()
        db.session.remove()
    yield ids
    with app.app_context():
        db.session.execute(sa.delete(Project).where(Project.id == ids["project"]))
        db.session.execute(sa.delete(User).where(User.id == ids["owner"]))
        db.session.commit()
        db.session.remove()


def race(app: Flask, make: Callable[[], Any]) -> list[Any]:
    """Run `make` in two transactions of their own, the first paused before its commit until
    the second waits for a lock or has ended; what each made, or the error it raised."""
    made: list[Any] = [None, None]
    paused = threading.Event()
    first: threading.Thread
    second: threading.Thread

    def work(index: int) -> None:
        with app.app_context():
            try:
                made[index] = make()
                if index == 0:
                    paused.set()
                    wait_until_blocked_or_done(second)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports what went wrong
                db.session.rollback()
                made[index] = exc
            finally:
                paused.set()
                db.session.remove()

    first = threading.Thread(target=work, args=(0,), name="first")
    second = threading.Thread(target=work, args=(1,), name="second")
    run_first_paused(first, second, paused)
    return made


def test_two_next_episodes_at_once_take_numbers_in_turn(app, episode_ids):
    def add_next_episode() -> int:
        number = next_episode_number(episode_ids["project"], field="number")
        db.session.add(Episode(project_id=episode_ids["project"], number=number, title="next"))
        db.session.flush()
        return number

    assert race(app, add_next_episode) == [2, 3]


def test_two_scene_appends_at_once_take_orders_in_turn(app, episode_ids):
    def append_two_scenes() -> int:
        start = next_scene_order(episode_ids["episode"], 2, field="order")
        db.session.add_all(
            Scene(episode_id=episode_ids["episode"], order=start + i, prompt="more")
            for i in range(2)
        )
        db.session.flush()
        return start

    assert race(app, append_two_scenes) == [1, 3]
