"""docker-compose.yml is a valid compose file with every service of the farm."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.processes import REPO

SERVICES = {"postgres", "redis", "web", "gpu-worker", "cpu-worker", "beat", "progress-sink",
            "flower", "emulator"}


def test_compose_file_validates_and_lists_the_farm():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is missing: scripts/services packages installs it")
    subprocess.run([binary, "config", "-q"], cwd=REPO, check=True, timeout=60)
    listed = subprocess.run([binary, "config", "--services"], cwd=REPO, check=True,
                            capture_output=True, text=True, timeout=60).stdout.split()
    assert SERVICES <= set(listed)
