"""Thread pools kept for a process's life, so each stage's transfers do not start threads."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


class KeptPool:
    """A thread pool made on first use and kept, made afresh in a forked child.

    Starting a pool's threads for every stage's transfers cost several ms under load (each
    start waits for the new thread to be scheduled). A prefork worker's pool processes are
    forked from a parent that may hold the pool already; its threads do not exist in them.
    """

    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self.name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def get(self) -> ThreadPoolExecutor:
        """The process's pool."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=self.name)
            return self._pool

    def _forget(self) -> None:
        self._pool = None
        self._lock = threading.Lock()
