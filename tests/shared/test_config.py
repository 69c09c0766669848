"""Settings come from the environment, with documented defaults and named failures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.config import DEFAULT_SECRET_KEY, load_settings
from shared.errors import ConfigError
from tests.support.processes import REPO


def test_defaults_put_broker_and_backend_on_redis_database_numbers():
    settings = load_settings({"REDIS_URL": "redis://cache.local:6380/0"})
    assert settings.broker_url == "redis://cache.local:6380/1"
    assert settings.result_backend == "redis://cache.local:6380/2"
    assert settings.env == "development"
    assert settings.secret_key == DEFAULT_SECRET_KEY


def test_explicit_broker_wins():
    settings = load_settings({"CELERY_BROKER_URL": "redis://other:6379/5"})
    assert settings.broker_url == "redis://other:6379/5"


@pytest.mark.parametrize(
    "name, value",
    [("DATABASE_URL", "mysql://x/y"), ("REDIS_URL", "http://x"), ("WEB_PORT", "http"),
     ("COMFYUI_URL", "localhost:8188"), ("TOWER_ENV", "staging"),
     ("DATABASE_URL", "postgresql://h:notaport/db")],
)
def test_malformed_variables_are_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


@pytest.mark.parametrize("secret", ["", DEFAULT_SECRET_KEY])
def test_production_refuses_a_default_or_empty_secret(secret):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"TOWER_ENV": "production", "SECRET_KEY": secret}).require_secure()
    load_settings({"TOWER_ENV": "production", "SECRET_KEY": "s3cret-value"}).require_secure()


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-c", "import web.wsgi"],
        [sys.executable, "-m", "celery", "-A", "tasks.app", "worker", "-Q", "cpu", "-c", "1",
         "--without-mingle", "--without-gossip"],
    ],
    ids=["web", "worker"],
)
def test_production_processes_refuse_to_start_with_one_line(argv):
    env = {"TOWER_ENV": "production", "SECRET_KEY": "", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "SECRET_KEY" in line]
    assert lines == [lines[0]] and "Traceback" not in result.stderr, result.stderr
