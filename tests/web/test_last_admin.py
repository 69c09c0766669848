"""The farm keeps an active admin: the last one cannot be demoted or deactivated, not even by
two admins demoting each other at once (two real connections)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from shared.db import db
from shared.models import User
from tests import factories
from tests.support.lock_waits import run_first_paused, wait_until_blocked_or_done
from tests.web.conftest import Api, token_for
from web.credentials import issue_access_token


@pytest.mark.parametrize(
    ("change", "field"), [({"role": "operator"}, "role"), ({"is_active": False}, "is_active")]
)
def test_the_last_active_admin_stays_one(app, client, as_role, world, db_session, change, field):
    admin = world.users["admin"]
    api = as_role("admin")
    refused = api.patch(f"/api/users/{admin.id}", json=change)
    assert refused.status_code == 409, refused.get_json()
    assert list(refused.get_json()["fields"]) == [field]
    db_session.expire_all()
    kept = db_session.get(User, admin.id)
    assert (kept.role, kept.is_active) == ("admin", True)

    second = factories.make_user(db_session, role="admin")
    db_session.commit()
    assert api.patch(f"/api/users/{admin.id}", json=change).status_code == 200
    now_last = Api(client, token_for(app, second))
    assert now_last.patch(f"/api/users/{second.id}", json=change).status_code == 409


def test_an_inactive_admin_and_other_accounts_change_freely(as_role, world, db_session):
    api = as_role("admin")
    dormant = factories.make_user(db_session, role="admin", is_active=False)
    db_session.commit()
    assert api.patch(f"/api/users/{dormant.id}", json={"role": "user"}).status_code == 200
    operator = world.users["operator"]
    assert api.patch(f"/api/users/{operator.id}", json={"is_active": False}).status_code == 200


@pytest.fixture
def two_admins(app: Flask) -> Iterator[list[tuple[int, str]]]:
    """The only two active admins (others are deactivated meanwhile), committed: their ids and
    access tokens; the earlier state is restored afterwards."""
    with app.app_context():
        active = list(
            db.session.scalars(
                sa.select(User.id).where(User.role == "admin", User.is_active.is_(True))
            )
        )
        db.session.execute(sa.update(User).where(User.id.in_(active)).values(is_active=False))
        admins = [factories.make_user(db.session, role="admin") for _ in range(2)]
        db.session.commit()
        made = [
            (a.id, issue_access_token(app.config["SECRET_KEY"], a.id, "admin", 600)[0])
            for a in admins
        ]
        db.session.remove()
    yield made
    with app.app_context():
        db.session.execute(sa.delete(User).where(User.id.in_([i for i, _ in made])))
        db.session.execute(sa.update(User).where(User.id.in_(active)).values(is_active=True))
        db.session.commit()
        db.session.remove()


def test_two_admins_demoting_each_other_at_once_leave_one(app, two_admins, monkeypatch):
    (first_id, first_token), (second_id, second_token) = two_admins
    responses: list[Any] = [None, None]
    paused = threading.Event()
    first: threading.Thread
    second: threading.Thread

    def pause_first(session: Any) -> None:
        # The first demotion waits, about to commit, until the second waits or has ended.
        if threading.current_thread() is first and any(
            isinstance(row, User) for row in session.dirty
        ):
            paused.set()
            wait_until_blocked_or_done(second)

    def demote(index: int, target: int, token: str) -> None:
        responses[index] = app.test_client().patch(
            f"/api/users/{target}",
            json={"role": "user"},
            headers={"Authorization": f"Bearer {token}"},
        )

    first = threading.Thread(target=demote, args=(0, second_id, first_token))
    second = threading.Thread(target=demote, args=(1, first_id, second_token))
    sa.event.listen(sa.orm.Session, "before_commit", pause_first)
    try:
        run_first_paused(first, second, paused)
    finally:
        sa.event.remove(sa.orm.Session, "before_commit", pause_first)
    assert [r.status_code for r in responses] == [200, 409], [r.get_json() for r in responses]
    assert list(responses[1].get_json()["fields"]) == ["role"]
    with app.app_context():
        roles = dict(
            db.session.execute(
                sa.select(User.id, User.role).where(User.id.in_([first_id, second_id]))
            ).all()
        )
        db.session.remove()
    assert roles == {first_id: "admin", second_id: "user"}
