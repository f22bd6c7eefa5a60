"""Handing memory back to the operating system (glibc; elsewhere these do nothing).

The in-memory views of the directory (search index, matching pool) are built, and queried, with large numpy
temporaries. glibc serves a large block with mmap and unmaps it when freed, but after the first such free it
raises its mmap threshold, so later blocks of that size come from the heap and stay with the process when
freed: a worker's resident memory creeps up request after request. Pinning the threshold keeps large blocks
on mmap; `trim` returns what the heap freed after a build.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 256 * 1024


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_large_blocks_on_mmap(threshold: int = LARGE_BLOCK) -> None:
    """Blocks of at least `threshold` bytes are always mmapped, so freeing one returns it at once."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, threshold)


def trim() -> None:
    """Return the heap's free pages (after a build that freed far more than it kept)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
