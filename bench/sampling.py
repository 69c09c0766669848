"""A background thread that takes a sample once a second while a benchmark runs."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Self


class EverySecond(ABC):
    """Calls `sample()` once a second from `with` until its end; subclasses say what it
    records."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @abstractmethod
    def sample(self) -> None:
        """Take one sample."""

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(1.0)
