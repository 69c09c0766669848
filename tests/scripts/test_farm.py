"""scripts/farm starts Procfile processes in the background, also after a kill -9."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import REPO, wait_for

FARM = str(REPO / "scripts" / "farm")


def farm(command: str, tmp_path: Path) -> str:
    """Run `scripts/farm COMMAND` with its output read through a pipe, as a caller would; a
    process left holding the pipe would make this time out."""
    env = {**os.environ, "PROCFILE": str(tmp_path / "Procfile"), "FARM_VAR": str(tmp_path)}
    done = subprocess.run(
        [FARM, command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    return done.stdout


def started_pid(output: str) -> int:
    found = re.search(r"started sleeper \(pid (\d+)\)", output)
    assert found, output
    return int(found.group(1))


def is_running(pid: int) -> bool:
    try:
        state = subprocess.run(
            ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return False
    return bool(state) and not state.startswith("Z")


@pytest.fixture
def procfile(tmp_path: Path) -> Path:
    (tmp_path / "Procfile").write_text("sleeper: sleep 600\n")
    yield tmp_path
    farm("down", tmp_path)


def test_up_after_a_kill_names_the_new_process_and_returns(procfile):
    first = started_pid(farm("up", procfile))
    assert is_running(first)
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not is_running(first), 30, what=f"pid {first} to die")
    second = started_pid(farm("up", procfile))
    assert second != first and is_running(second)
    assert int((procfile / "run" / "sleeper.pid").read_text()) == second


def test_down_stops_what_up_started(procfile):
    pid = started_pid(farm("up", procfile))
    assert "already running" in farm("up", procfile)
    farm("down", procfile)
    wait_for(lambda: not is_running(pid), 30, what=f"pid {pid} to stop")
    assert not (procfile / "run" / "sleeper.pid").exists()
