"""Frames move a few at a time: results keep their order, and a failure is raised only once
every other transfer has ended."""

from __future__ import annotations

import os
import threading
import time

import pytest

from workers.comfyui.transfer import TRANSFER_THREADS, TRANSFERS, transfer_all


def test_results_keep_the_items_order_when_later_ones_finish_first():
    def move(index: int) -> int:
        time.sleep(0.01 * (6 - index))  # the first item ends last
        return index * 10

    assert transfer_all(move, list(range(6))) == [0, 10, 20, 30, 40, 50]


def test_a_failure_is_raised_after_every_other_transfer_ended():
    ended: list[int] = []

    def move(index: int) -> None:
        if index == 1:
            raise OSError("disk full")
        time.sleep(0.02)
        ended.append(index)

    with pytest.raises(OSError, match="disk full"):
        transfer_all(move, list(range(8)))
    assert sorted(ended) == [0, 2, 3, 4, 5, 6, 7]


def test_at_most_a_few_transfers_run_at_once():
    running, peak, lock = [0], [0], threading.Lock()

    def move(_: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1

    transfer_all(move, list(range(20)))
    assert 1 <= peak[0] <= TRANSFER_THREADS


def test_transfers_reuse_the_process_threads():
    """Each stage's transfers run on threads kept for the process, not started afresh."""
    names: set[str] = set()

    def move(_: int) -> None:
        names.add(threading.current_thread().name)
        time.sleep(0.01)

    transfer_all(move, list(range(8)))
    first = set(names)
    transfer_all(move, list(range(8)))
    assert names == first


def test_a_forked_child_gets_threads_of_its_own():
    """A prefork worker's pool processes are forked after the parent may have used the pool."""
    transfer_all(lambda index: index, list(range(4)))
    inherited = TRANSFERS.get()
    pid = os.fork()
    if pid == 0:  # the child: the inherited pool's threads do not exist here
        if TRANSFERS.get() is inherited:
            os._exit(1)  # work submitted to it would wait for ever
        moved = transfer_all(lambda index: index * 2, list(range(4))) == [0, 2, 4, 6]
        os._exit(0 if moved else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
