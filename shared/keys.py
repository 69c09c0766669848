"""Secrets of one install: generated on first start, stored 0600, checked before use.

A farm that is given no SECRET_KEY (or, in development, no Flower login) makes its own and
keeps it in a private folder, so every process of the farm (web, workers, beat) started from
the same folder or volume signs and checks with the same key, and no two installs share one.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from shared.errors import ConfigError

# Keys that were ever documented, shipped or are guessed first: refused everywhere.
KNOWN_SECRET_KEYS = frozenset(
    {
        "dev-insecure-secret-key",
        "changeme",
        "change-me",
        "secret",
        "secret-key",
        "secret_key",
        "your-secret-key",
        "tower",
        "development",
        "dev",
        "test",
        "password",
    }
)
KNOWN_FLOWER_LOGINS = frozenset({"tower:tower-dev", "admin:admin", "flower:flower"})
MIN_SECRET_BYTES = 32
SECRET_KEY_FILE = "secret_key"
FLOWER_LOGIN_FILE = "flower_basic_auth"
DEMO_PASSWORD_FILE = "demo_password"


def generate_secret_key() -> str:
    """A fresh random key (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def generate_flower_login() -> str:
    """A fresh `user:password` for Flower's basic auth."""
    return f"tower:{secrets.token_urlsafe(18)}"


def generate_password() -> str:
    """A fresh account password (128 bits, URL-safe text)."""
    return secrets.token_urlsafe(16)


def read_or_create(path: Path, generate: Callable[[], str], variable: str) -> str:
    """The secret stored at `path`, created with `generate()` (mode 0600) when missing; it
    stands in for the unset environment variable `variable`, which errors name.

    Every process of a farm may start at once: the value is written to a private temporary
    file and hard-linked into place, which fails if another process got there first, so one
    value wins and every process reads that one.

    :raises ConfigError: when the file is readable by others or cannot be read or created.
    """
    try:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_once(path, generate())
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{variable} is unset and its generated value {path} is readable by other "
                f"users (mode {mode:04o}): run chmod 600 on it"
            )
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"{variable} is unset and its generated value cannot be kept in {path.parent} "
            f"({exc.strerror}): set {variable} or TOWER_SECRETS_DIR"
        ) from exc
    if not value:
        raise ConfigError(f"{variable} is unset and {path} is empty: delete the file")
    return value


def _create_once(path: Path, value: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:  # mkstemp creates it 0600
            handle.write(value + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process of the farm created it first: use theirs
    finally:
        os.unlink(temporary)


def secret_key_problem(value: str, *, production: bool) -> str | None:
    """Why SECRET_KEY must not be used, or None when it may.

    Known defaults are refused everywhere; production also refuses short keys and keys with
    whitespace around them (a stray space or newline from a copy and paste).
    """
    if not value.strip():
        return "SECRET_KEY is empty"
    if value.strip().lower() in KNOWN_SECRET_KEYS:
        return "SECRET_KEY is a publicly known default; set a private random value"
    if production and value != value.strip():
        return "SECRET_KEY has whitespace around it; remove it"
    if production and len(value.encode()) < MIN_SECRET_BYTES:
        return f"SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production"
    return None


def flower_login_problem(value: str) -> str | None:
    """Why FLOWER_BASIC_AUTH must not be used, or None when it may."""
    user, _, password = value.partition(":")
    if not user or not password or value != value.strip():
        return "FLOWER_BASIC_AUTH must be user:password (no spaces around it)"
    if value in KNOWN_FLOWER_LOGINS:
        return "FLOWER_BASIC_AUTH is a publicly known default; set your own user:password"
    return None
