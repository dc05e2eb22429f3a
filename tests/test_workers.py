"""Worker processes shared by the stages of a run (``dedup.minhash.shared_workers``)."""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.minhash import even_runs, process_pool, shared_workers


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


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=0.1, max_value=50.0), max_size=300),
    st.floats(min_value=1.0, max_value=500.0),
    st.integers(min_value=1, max_value=4),
)
def test_even_runs_cover_the_items_in_balanced_runs(weights: list[float], target: float, workers: int) -> None:
    bounds = even_runs(np.array(weights), target, workers)
    n, total = len(weights), sum(weights)
    assert bounds[0] == 0 and bounds[-1] == n
    assert all(a < b for a, b in itertools.pairwise(bounds))  # every item in one run, no run empty
    if not n:
        return
    # As many runs as runs of ``target`` would be, rounded up to a multiple of ``workers``...
    asked = min(n, -(-math.ceil(total / target) // workers) * workers)
    assert len(bounds) - 1 <= asked
    # ...and none more than its share by more than one item.
    assert max(sum(weights[a:b]) for a, b in itertools.pairwise(bounds)) <= total / asked + max(weights) + 1e-6


@pytest.mark.parametrize("n", [1, 2, 7, 9_999, 10_001, 85_112])
def test_even_runs_of_equal_items_are_the_runs_asked_for(n: int) -> None:
    bounds = even_runs(np.ones(n), 5_000, 2)
    assert len(bounds) - 1 == min(n, -(-math.ceil(n / 5_000) // 2) * 2)
    sizes = np.diff(bounds)
    assert sizes.max() - sizes.min() <= 1


def test_even_runs_give_every_worker_as_many_runs() -> None:
    assert even_runs(np.ones(85_112), 5_000, 2)[:3] == [0, 4_729, 9_457]
    assert len(even_runs(np.ones(85_112), 5_000, 2)) - 1 == 18  # not 17 full runs and a tail
    assert even_runs(np.ones(10_000), 5_000, 2) == [0, 5_000, 10_000]
    assert even_runs(np.ones(3), 1.0, 2) == [0, 1, 2, 3]  # fewer items than a multiple of workers
    assert even_runs(np.ones(0), 5.0, 2) == [0]


def _keeps_freed_memory(_: int = 0) -> bool:
    from dedup import memory

    return memory._kept


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_run_and_its_workers_keep_freed_memory_for_reuse() -> None:
    from dedup import memory

    with shared_workers(), process_pool(2) as pool:
        assert memory._kept  # this process, from the block's start
        assert all(pool.map(_keeps_freed_memory, range(4)))  # each worker, as it started
    assert memory.keep_freed_memory()  # asked once per process: a second call changes nothing
