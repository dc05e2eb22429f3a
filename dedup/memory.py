"""What the C allocator does with freed memory: kept for the next step, or handed back.

CPython and NumPy free memory to the C allocator, which on glibc keeps much of it in its
heap for later use: after a step that held many medium-sized arrays at once (the feature
counts of every chunk, before they are merged) the process keeps its peak size although
the memory is free, and the next step's large arrays come from new pages beside it.
:func:`release_memory` asks glibc to return the free part of its heap (``malloc_trim``)
at such points. Between them, :func:`keep_freed_memory` has glibc keep the medium-sized
blocks the steps free, so that the next step reuses them instead of faulting in new pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable

__all__ = ["keep_freed_memory", "release_memory"]

# mallopt parameters of glibc's <malloc.h>, and the sizes set for them (see keep_freed_memory).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEPT_BYTES = 256 * 1024 * 1024
_kept = False


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


@functools.cache
def _trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    return getattr(_libc(), "malloc_trim", None)


def release_memory() -> bool:
    """Collect garbage and return the C allocator's free memory to the system; whether the
    allocator could be asked (glibc), else nothing is done beyond the collection."""
    gc.collect()
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True


def keep_freed_memory() -> bool:
    """Have glibc keep freed blocks of up to 256 MiB for reuse in this process; whether it
    could be asked (glibc), else nothing is done. Called once per process of a run.

    By default glibc gives every block above 128 KiB (a threshold that rises with the blocks
    freed, to at most 32 MiB) a mapping of its own and unmaps it when it is freed, and hands
    the top of its heap back once twice that threshold of it is free. The stages free and
    allocate arrays of tens of MiB step after step, so each step would fault in fresh zeroed
    pages (on a virtual machine, pages the host may have to back again too:
    system time that measured about a tenth of the pipeline's CPU time). Blocks above the
    limit still get their own mappings, so :func:`release_memory` and the end of a large
    array still return the memory that bounds a large run's peak.
    """
    global _kept
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    if not _kept:
        mallopt(_M_MMAP_THRESHOLD, _KEPT_BYTES)
        mallopt(_M_TRIM_THRESHOLD, _KEPT_BYTES)
        _kept = True
    return True
