"""Handing memory back to the operating system (glibc; elsewhere these do nothing).

The in-memory views of the directory (search index, matching pool) are built, and queried, with large numpy
temporaries. glibc serves a large block with mmap and unmaps it when freed, but after the first such free it
raises its mmap threshold, so later blocks of that size come from the heap and stay with the process when
freed: a worker's resident memory creeps up request after request. Pinning the threshold keeps large blocks
on mmap; `trim` returns what the heap freed after a build.

`marketplace serve` applies the settings (`configure_server`) to the server process before its workers
start, and to the environment, so every worker has them whether it is forked or spawned. The app factory
and the test suite leave the process's allocator alone. Likewise `serve` collects the garbage collector's youngest
generation less often (`tune_collector`, in `app.preload_views`: the workers forked from it inherit it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from functools import cache

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 2
"""glibc gives each thread that allocates under contention an arena of its own (up to 8 per core), and each
keeps its freed memory: the server's I/O threads and matching's ranking threads would each grow one."""
LARGE_BLOCK = 1024 * 1024
"""Above a query's per-row temporaries over 200,000 rows (bool and uint8 200 KB, uint16 400 KB), which the heap
serves faster than fresh pages; below matching's float arrays (1.6 MB), which now go back on free."""
HEAP_SLACK = 64 * 1024 * 1024
"""Free heap kept rather than returned at once: temporaries come and go with every request."""


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def tune_allocator(threshold: int = LARGE_BLOCK, slack: int = HEAP_SLACK, arenas: int = ARENAS) -> None:
    """Blocks of at least `threshold` bytes are always mmapped, so freeing one returns it at once; the heap
    keeps up to `slack` bytes free before giving memory back (`trim` returns it all); at most `arenas` heaps."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, threshold)
        libc.mallopt(M_TRIM_THRESHOLD, slack)
        libc.mallopt(M_ARENA_MAX, arenas)


YOUNG_COLLECTION = 10_000
"""Container objects allocated (net) between two collections of the garbage collector's youngest generation (Python's
default: 700). A match run allocates some 2,000: at the default, two or three collections a run, each walking the
request's live lists (the explanations' columns, the profiles read), about 1 ms a run in all at 200,000 providers
(measured in process, the broad need: 2.8 collections, 1.0 ms); at this threshold none was counted in 20 runs."""


def tune_collector(young: int = YOUNG_COLLECTION) -> None:
    """Collect the youngest generation every `young` allocations (the older generations' thresholds kept). For the
    serving process, before its workers are forked (they inherit it)."""
    gc.set_threshold(young, *gc.get_threshold()[1:])


def trim() -> None:
    """Return the heap's free pages (after a build that freed far more than it kept)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(LARGE_BLOCK),
    "MALLOC_TRIM_THRESHOLD_": str(HEAP_SLACK),
    "MALLOC_ARENA_MAX": str(ARENAS),
}
"""The same settings as glibc's environment variables: a process started with them has them from its start."""


def configure_server() -> None:
    """Tune this process's allocator and put the settings in its environment (a variable already set wins:
    an operator's choice). For the serving process, before it starts its workers."""
    for name, value in ALLOCATOR_ENV.items():
        os.environ.setdefault(name, value)
    tune_allocator(
        int(os.environ["MALLOC_MMAP_THRESHOLD_"]),
        int(os.environ["MALLOC_TRIM_THRESHOLD_"]),
        int(os.environ["MALLOC_ARENA_MAX"]),
    )
