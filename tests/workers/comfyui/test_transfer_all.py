"""Frames move a few at a time: results keep their order, and a failure is raised only once
every other transfer has ended."""

from __future__ import annotations

import threading
import time

import pytest

from workers.comfyui.transfer import TRANSFER_THREADS, transfer_all


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
