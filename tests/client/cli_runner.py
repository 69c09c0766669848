"""Running the `tower` command as a user would: a subprocess with its own config file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import REPO

CONSOLE_SCRIPT = Path(sys.executable).parent / "tower"


@dataclass
class Result:
    """How a command ended."""

    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_tower(
    *args: str, config: Path, url: str | None = None, timeout: float = 180, stdin: str = ""
) -> Result:
    """Run `tower ARGS` (the installed console script when present) with `stdin` piped in, and
    capture its output."""
    command = (
        [str(CONSOLE_SCRIPT)]
        if CONSOLE_SCRIPT.exists()
        else [sys.executable, "-m", "tower_client.cli"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWER_")}
    env["TOWER_CONFIG"] = str(config)
    if url:
        env["TOWER_URL"] = url
    done = subprocess.run(
        [*command, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        input=stdin,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def call_tower(capsys, *args: str, config: Path, url: str | None = None) -> Result:
    """Run the `tower` entry point in this process (faster than a subprocess, same code)."""
    from tower_client.cli import main

    capsys.readouterr()
    options = ["--config", str(config), *(["--url", url] if url else [])]
    try:
        main([*options, *args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return Result(code, out.out, out.err)
