"""`flask users create` refuses what the API refuses, with one line naming the field and no
traceback, and creates nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shared.models import User
from web.accounts import find_user

PASSWORD = "a long password\n"


def create(app, email: str, password: str | bytes = PASSWORD):
    """Run `flask users create EMAIL` with the password on stdin."""
    return app.test_cli_runner().invoke(args=["users", "create", email], input=password)


@pytest.mark.parametrize(
    "email",
    [
        "a\udcff@example.com",  # a non-UTF-8 argument, as Python hands it over
        "not-an-email@",
        "@",
        "two words@example.com",
    ],
)
def test_a_malformed_email_is_refused_naming_it(app, db_session, email):
    before = accounts(db_session)
    result = create(app, email)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: email: ")
    assert len(result.output.strip().splitlines()) == 1
    assert accounts(db_session) == before


def accounts(session) -> int:
    """How many accounts there are."""
    return session.scalar(sa.select(sa.func.count()).select_from(User))


def test_a_password_that_is_not_utf8_is_refused(app, db_session):
    result = create(app, "bytes@example.com", b"correct \xff horse battery\n")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: the password is not text in utf-8")
    assert find_user("bytes@example.com") is None
