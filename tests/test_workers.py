"""Worker processes shared by the stages of a run (``dedup.minhash.shared_workers``)."""

from __future__ import annotations

import os
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from dedup.minhash import process_pool, shared_workers


def _pid(_: int = 0) -> int:
    return os.getpid()


def _slow_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _die() -> None:
    os._exit(3)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stages_in_a_block_share_one_pool_and_it_ends_with_the_block() -> None:
    with shared_workers():
        with process_pool(1) as first:
            pid = first.submit(_pid).result()
        with process_pool(1) as second:  # a later stage: the same process, already running
            assert second.submit(_pid).result() == pid
        with shared_workers(), process_pool(1) as third:  # nested: the outer block's pools
            assert third.submit(_pid).result() == pid
        assert _alive(pid)
    assert not _alive(pid)


def test_outside_a_block_each_pool_has_its_own_processes() -> None:
    with process_pool(1) as first:
        pid = first.submit(_pid).result()
    assert not _alive(pid)
    with process_pool(1) as second:
        assert second.submit(_pid).result() != pid


def test_a_handle_cancels_only_its_own_waiting_work() -> None:
    with shared_workers():
        other = process_pool(1)
        # More work than the pool takes in ahead of its one process: the rest waits.
        running = [other.submit(_slow_pid, 0.2) for _ in range(4)]
        handle = process_pool(1)
        waiting = handle.submit(_pid)
        handle.shutdown(wait=False, cancel_futures=True)
        assert waiting.cancelled()
        pids = {future.result() for future in running}  # the other stage's work goes on
        with process_pool(1) as later:  # and the pool still takes work
            assert {later.submit(_pid).result()} == pids


def test_a_pool_broken_by_a_dying_process_is_started_again() -> None:
    with shared_workers():
        with process_pool(1) as first, pytest.raises(BrokenProcessPool):
            first.submit(_die).result()
        with process_pool(1) as second:
            assert second.submit(_pid).result() > 0


def test_a_handle_does_not_hold_the_results_of_ended_work() -> None:
    # A stage's results are the caller's: the handle must not keep them in memory.
    with shared_workers(), process_pool(1) as handle:
        futures = [handle.submit(_pid) for _ in range(3)]
        [future.result() for future in futures]
        deadline = time.monotonic() + 5
        while handle.futures and time.monotonic() < deadline:  # done callbacks follow the results
            time.sleep(0.01)
        assert not handle.futures
