"""A GPU node's name has one default everywhere: WORKER_NODE, else the host name, in the app,
the Procfile (which scripts/farm runs), docker-compose and the README."""

from __future__ import annotations

import os
import subprocess

import yaml

from shared.config import load_settings
from tasks.pipeline.fleet import node_name
from tests.support.processes import REPO
from tests.test_compose import FLOWER_LOGIN, compose
from tests.web.test_fleet_flower import procfile_command

NODE = "${WORKER_NODE:-$(hostname)}"


def shell_expand(command: str, env: dict[str, str]) -> list[str]:
    """A command line's words as a shell expands them in `env`."""
    done = subprocess.run(
        ["bash", "-c", f"printf '%s\\n' {command}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def queue_and_name(words: list[str]) -> tuple[str, str]:
    """The -Q and -n values of a celery worker command line."""
    return words[words.index("-Q") + 1], words[words.index("-n") + 1]


def test_the_procfile_and_the_app_name_a_node_alike():
    line = procfile_command("gpu-worker")
    assert line.count(NODE) == 2, line
    env = {k: v for k, v in os.environ.items() if k != "WORKER_NODE"}
    default = node_name(load_settings(env))
    assert queue_and_name(shell_expand(line, env)) == (f"gpu,gpu.{default}", f"gpu-{default}@%h")
    named = {**env, "WORKER_NODE": "gpu-a"}
    assert node_name(load_settings(named)) == "gpu-a"
    assert queue_and_name(shell_expand(line, named)) == ("gpu,gpu.gpu-a", "gpu-gpu-a@%h")


def test_compose_runs_the_procfile_line_on_a_host_named_after_the_node():
    for given, expected in (({}, "gpu-node1"), ({"WORKER_NODE": "gpu-b"}, "gpu-b")):
        config = yaml.safe_load(compose("config", FLOWER_BASIC_AUTH=FLOWER_LOGIN, **given).stdout)
        worker = config["services"]["gpu-worker"]
        assert worker["hostname"] == expected
        assert "WORKER_NODE" not in worker["environment"]  # so the host name decides
        shell, flag, line = worker["command"]
        # `docker-compose config` prints `$` escaped as `$$`, as the file has it.
        assert (shell, flag) == ("sh", "-c")
        assert line.replace("$$", "$") == "exec " + procfile_command("gpu-worker")


def test_the_readme_states_the_same_default():
    readme = (REPO / "README.md").read_text()
    assert "| `WORKER_NODE` | the host name |" in readme
    assert "node1" not in readme
