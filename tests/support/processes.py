"""Real Tower processes for tests: Celery workers started as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Process:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._asked = False
        self.popen = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def log_text(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def ask_to_stop(self) -> None:
        """SIGTERM the whole process group once, without waiting (several stop side by side)."""
        if self.popen.poll() is None and not self._asked:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self._asked = True

    def stop(self, timeout: float = 15) -> None:
        """Ask the whole process group to stop, and kill it if it does not."""
        if self.popen.poll() is None:
            self.ask_to_stop()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


def start_celery_worker(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    queues: str = "gpu,cpu",
    name: str = "test",
    concurrency: int = 2,
    extra: list[str] | None = None,
    prefix: list[str] | None = None,
) -> Process:
    """Start `celery worker` on the given queues (prefork pool, as in production), under a
    `prefix` command if given (e.g. `ip netns exec NAME`)."""
    argv = [
        *(prefix or []),
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tasks.app",
        "worker",
        "-Q",
        queues,
        "-n",
        f"{name}@%h",
        "-c",
        str(concurrency),
        "--pool",
        "prefork",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
        *(extra or []),
    ]
    return Process(argv, env, log_dir / f"celery-{name}.log")


def wait_for(predicate, timeout: float, interval: float = 0.1, what="condition"):
    """Poll `predicate` until it returns a truthy value or `timeout` passes.

    `what` names the wait: a string, or a callable giving one when the deadline passes (so a
    message carrying logs shows them as they were at the failure, not at the call).

    :raises TimeoutError: naming `what` when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise TimeoutError(f"timed out after {timeout}s waiting for {described}")
        time.sleep(interval)
