"""Farm settings changed for one test: committed (every process reads them), then reset."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from shared.db import db
from shared.settings_store import reset_setting, set_setting


@contextmanager
def farm_setting(app: Flask, name: str, value: Any) -> Iterator[None]:
    """Give a setting `value` for the block (outside any test transaction), then reset it."""
    with app.app_context(), Session(db.engine) as session:
        set_setting(session, name, value, None)
    try:
        yield
    finally:
        with app.app_context(), Session(db.engine) as session:
            reset_setting(session, name, None)
