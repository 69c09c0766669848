"""Start the ComfyUI emulator as a real subprocess for tests and benchmarks."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[2]


class EmulatorStartError(RuntimeError):
    """The emulator did not print its port in time (its log is in the message)."""


class Emulator:
    """A running `python -m comfy_emulator` child: .url, .port, .root, stop(), kill()."""

    def __init__(
        self,
        popen: subprocess.Popen,
        port: int,
        root: Path,
        log_path: Path,
        host: str = "127.0.0.1",
    ) -> None:
        self.popen = popen
        self.port = port
        self.root = root
        self.log_path = log_path
        self.host = host
        self.url = f"http://{self.host}:{port}"
        self.ws_url = f"ws://{self.host}:{port}/ws"

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def log_text(self) -> str:
        """The emulator's stderr log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def kill(self) -> None:
        """SIGKILL, as a crashed GPU node would die."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(
    root: Path,
    *,
    step_seconds: float = 0.01,
    models: dict[str, list[str]] | None = None,
    fault: str | None = None,
    deadline: float = 20.0,
    port: int = 0,
    model_load_seconds: float = 0.0,
    host: str = "127.0.0.1",
    prefix: list[str] | None = None,
    without_classes: tuple[str, ...] = (),
) -> Emulator:
    """Start an emulator on `host`:`port` (0: a free one) with input/output/temp under root,
    under a `prefix` command if given (e.g. `ip netns exec NAME`, another host's network).

    :raises EmulatorStartError: when no port line arrives before the deadline.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    argv = [
        *(prefix or []),
        sys.executable,
        "-m",
        "comfy_emulator",
        "--host",
        host,
        "--port",
        str(port),
        "--step-seconds",
        str(step_seconds),
        "--root",
        str(root),
    ]
    if models is not None:
        models_path = root / "models.json"
        models_path.write_text(json.dumps(models), encoding="utf-8")
        argv += ["--models", str(models_path)]
    if fault:
        argv += ["--fault", fault]
    if model_load_seconds:
        argv += ["--model-load-seconds", str(model_load_seconds)]
    if without_classes:
        argv += ["--without-classes", ",".join(without_classes)]
    log_path = root / "emulator.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    port = _read_port(popen, deadline)
    if port is None:
        popen.kill()
        popen.wait(5)
        text = log_path.read_text(errors="replace")[-2000:]
        raise EmulatorStartError(f"emulator printed no port within {deadline}s:\n{text}")
    return Emulator(popen, port, root, log_path, host)


def _read_port(popen: subprocess.Popen, deadline: float) -> int | None:
    assert popen.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(popen.stdout, selectors.EVENT_READ)
    end = time.monotonic() + deadline
    buffer = b""
    try:
        while time.monotonic() < end and popen.poll() is None:
            if not selector.select(timeout=max(0.0, end - time.monotonic())):
                continue
            chunk = os.read(popen.stdout.fileno(), 64)
            if not chunk:
                return None
            buffer += chunk
            if b"\n" in buffer:
                line = buffer.split(b"\n", 1)[0].strip()
                return int(line) if line.isdigit() else None
    finally:
        selector.close()
    return None
