"""Handing freed memory back to the operating system between the stages' large steps.

CPython and NumPy free memory to the C allocator, which on glibc keeps much of it in its
heap for later use: after a step that held many medium-sized arrays at once (the feature
counts of every chunk, before they are merged) the process keeps its peak size although
the memory is free, and the next step's large arrays come from new pages beside it.
:func:`release_memory` asks glibc to return the free part of its heap (``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable

__all__ = ["release_memory"]


@functools.cache
def _trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def release_memory() -> bool:
    """Collect garbage and return the C allocator's free memory to the system; whether the
    allocator could be asked (glibc), else nothing is done beyond the collection."""
    gc.collect()
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
