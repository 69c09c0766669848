"""docker-compose.yml is a valid compose file with every service of the farm, and a safe one:
production mode, no built-in secret, Flower's login required, ports on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.support.processes import REPO

SERVICES = {
    "postgres",
    "redis",
    "web",
    "gpu-worker",
    "cpu-worker",
    "beat",
    "progress-sink",
    "flower",
    "emulator",
}
TOWER_SERVICES = SERVICES - {"postgres", "redis"}
FLOWER_LOGIN = "ops:compose-test-login"


def compose(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run docker-compose in the repository with only the given variables of ours set."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing: scripts/services packages installs it")
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "TOWER_ENV", "FLOWER_BASIC_AUTH", "WEB_BIND", "FLOWER_BIND")
    }
    return subprocess.run(
        [binary, *args], cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_compose_file_validates_and_lists_the_farm():
    assert compose("config", "-q", FLOWER_BASIC_AUTH=FLOWER_LOGIN).returncode == 0
    listed = compose("config", "--services", FLOWER_BASIC_AUTH=FLOWER_LOGIN).stdout.split()
    assert SERVICES <= set(listed)


def test_compose_requires_a_flower_login():
    result = compose("config", "-q")
    assert result.returncode != 0 and "FLOWER_BASIC_AUTH" in result.stderr


def test_compose_runs_production_without_a_built_in_key_on_loopback():
    config = yaml.safe_load(compose("config", FLOWER_BASIC_AUTH=FLOWER_LOGIN).stdout)
    services = config["services"]
    for name in TOWER_SERVICES:
        env = services[name]["environment"]
        assert env["TOWER_ENV"] == "production", name
        # Empty: the key generated once into the shared secrets volume.
        assert env["SECRET_KEY"] == "", name
        if name != "emulator":
            assert f"secrets:{env['TOWER_SECRETS_DIR']}:rw" in services[name]["volumes"], name
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == FLOWER_LOGIN
    published = [port for s in services.values() for port in s.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published), published
    assert "ports" not in services["emulator"] and services["emulator"]["volumes"] == []
