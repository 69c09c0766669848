"""Settings come from the environment, with documented defaults and named failures; the
secret key is never a built-in one."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest

from shared.config import load_settings
from shared.errors import ConfigError
from shared.keys import KNOWN_SECRET_KEYS
from tests.support.processes import REPO

STRONG_KEY = "k" * 40


@pytest.fixture
def secrets_dir(tmp_path):
    """A fresh install's secrets folder."""
    return tmp_path / "secrets"


def test_defaults_put_broker_and_backend_on_redis_database_numbers(secrets_dir):
    settings = load_settings(
        {"REDIS_URL": "redis://cache.local:6380/0", "TOWER_SECRETS_DIR": str(secrets_dir)}
    )
    assert settings.broker_url == "redis://cache.local:6380/1"
    assert settings.result_backend == "redis://cache.local:6380/2"
    assert settings.env == "development"


def test_explicit_broker_wins():
    settings = load_settings(
        {"CELERY_BROKER_URL": "redis://other:6379/5", "SECRET_KEY": STRONG_KEY}
    )
    assert settings.broker_url == "redis://other:6379/5"


@pytest.mark.parametrize(
    "name, value",
    [
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://x"),
        ("WEB_PORT", "http"),
        ("COMFYUI_URL", "localhost:8188"),
        ("TOWER_ENV", "staging"),
        ("DATABASE_URL", "postgresql://h:notaport/db"),
        ("TRUSTED_PROXIES", "one"),
        ("SWEEP_EVERY_S", "0"),
        ("SWEEP_EVERY_S", "nan"),
        ("SWEEP_EVERY_S", "soon"),
    ],
)
def test_malformed_variables_are_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value, "SECRET_KEY": STRONG_KEY})


def test_without_a_key_one_is_generated_per_install_and_kept_private(tmp_path):
    first = load_settings({"TOWER_SECRETS_DIR": str(tmp_path / "a")})
    again = load_settings({"TOWER_SECRETS_DIR": str(tmp_path / "a"), "TOWER_ENV": "production"})
    other = load_settings({"TOWER_SECRETS_DIR": str(tmp_path / "b")})
    assert first.secret_key == again.secret_key != other.secret_key
    assert len(first.secret_key.encode()) >= 32
    assert first.secret_key.lower() not in KNOWN_SECRET_KEYS
    again.require_secure()  # a generated key is fit for production
    assert stat.S_IMODE((tmp_path / "a" / "secret_key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700


def test_the_demo_password_is_generated_per_install_and_kept_private(tmp_path):
    first = load_settings({"TOWER_SECRETS_DIR": str(tmp_path / "a")}).demo_password()
    again = load_settings({"TOWER_SECRETS_DIR": str(tmp_path / "a")}).demo_password()
    other = load_settings({"TOWER_SECRETS_DIR": str(tmp_path / "b")}).demo_password()
    assert first == again != other
    assert len(first) >= 20
    assert stat.S_IMODE((tmp_path / "a" / "demo_password").stat().st_mode) == 0o600


def test_processes_starting_together_share_one_generated_key(secrets_dir):
    """The web app's workers, the Celery workers and beat start at once from one folder."""
    code = "from shared.config import load_settings; print(load_settings().secret_key)"
    env = {"TOWER_SECRETS_DIR": str(secrets_dir), "PATH": "/usr/bin:/bin"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(keys) == 1 and "" not in keys
    assert (secrets_dir / "secret_key").read_text().strip() in keys


def test_a_generated_key_that_others_can_read_is_refused(secrets_dir):
    load_settings({"TOWER_SECRETS_DIR": str(secrets_dir)})
    (secrets_dir / "secret_key").chmod(0o644)
    with pytest.raises(ConfigError, match="SECRET_KEY.*chmod 600"):
        load_settings({"TOWER_SECRETS_DIR": str(secrets_dir)})


@pytest.mark.parametrize(
    "secret",
    [
        "x",
        "changeme",
        "dev-insecure-secret-key",
        "dev-insecure-secret-key ",
        "a" * 31,
        f" {STRONG_KEY}",
        f"{STRONG_KEY}\n",
        "   ",
    ],
)
def test_production_refuses_short_known_or_padded_keys(secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"TOWER_ENV": "production", "SECRET_KEY": secret}).require_secure()


@pytest.mark.parametrize("secret", ["dev-insecure-secret-key", "changeme"])
def test_known_keys_are_refused_in_development_too(secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"SECRET_KEY": secret}).require_secure()


def test_a_private_key_of_32_bytes_starts_production():
    load_settings({"TOWER_ENV": "production", "SECRET_KEY": STRONG_KEY}).require_secure()


@pytest.mark.parametrize("secret", ["x", "changeme", "dev-insecure-secret-key "])
@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-c", "import web.wsgi"],
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks.app",
            "worker",
            "-Q",
            "cpu",
            "-c",
            "1",
            "--without-mingle",
            "--without-gossip",
        ],
        [sys.executable, "-m", "celery", "-A", "tasks.app", "beat", "--schedule", "SCHEDULE"],
    ],
    ids=["web", "worker", "beat"],
)
def test_production_processes_refuse_to_start_with_one_line(argv, secret, tmp_path):
    # Beat opens its schedule before it refuses: never /dev/null, which it would take for a
    # corrupt schedule and delete (as root, the machine's /dev/null).
    argv = [str(tmp_path / "beat-schedule") if arg == "SCHEDULE" else arg for arg in argv]
    env = {"TOWER_ENV": "production", "SECRET_KEY": secret, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "SECRET_KEY" in line]
    assert lines == [lines[0]] and "Traceback" not in result.stderr, result.stderr
