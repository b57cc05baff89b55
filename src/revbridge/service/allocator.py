"""glibc's malloc in a long-running process with many threads: two arenas, not one per thread.

glibc gives each thread that allocates its own arena (up to eight per core), and memory freed in
an arena stays with that arena. ``revbridge serve`` has many threads that allocate and free
message-sized buffers (the listeners' loop, HTTP worker threads, the group committer, the drop
folder), so each arena keeps its own free blocks, fragmented, and the process grew about 1 MB a
minute at 300 msg/s while its live memory (Python's blocks, SQLite's caches, glibc's bytes in
use) stayed flat: bench/serve_memory.py, docs/PERFORMANCE.md "Soak". With two arenas the free
blocks are reused and the resident size stays flat; throughput is unchanged, because small
objects come from Python's own allocator under the interpreter lock, not from malloc.

Called before the process starts its threads (arenas already made stay). An operator's own
``MALLOC_ARENA_MAX`` wins; elsewhere than glibc (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; whether the cap was set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not a C library with mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
