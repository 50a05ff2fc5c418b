"""Keep a long-running process's resident memory at its working size (glibc and Arrow hold freed memory otherwise).

Measured with `make soak` (reconnect storms every 5 min over 5,700 symbols): with glibc's defaults,
each storm's TLS and decompression buffers (256 KiB each, one per connection) came back from the
heap rather than from `mmap` once glibc had raised its mmap threshold, and every thread got an arena
of its own; the freed memory stayed resident and RSS stepped up a few MiB per storm.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import pyarrow as pa

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
"""glibc's default, fixed: setting it stops glibc from raising it after a large block is freed."""
ARENA_MAX = 2


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def tune_allocator() -> bool:
    """Large blocks always from `mmap` (returned on free) and two heap arenas, Arrow's buffers among them; call before
    threads start.

    Arrow's bundled mimalloc keeps per-thread heaps whose freed pages only the owning thread gives back, and sealing,
    extraction and repairs run on executor threads that come and go: in the soak its arena held 271 MiB resident. The
    system allocator with the fixed threshold unmaps every large buffer when it is freed, whichever thread frees it.
    False where the C library is not glibc (musl, macOS): nothing to tune there, and Arrow keeps its default pool.
    """
    if _LIBC is None:
        return False
    pa.set_memory_pool(pa.system_memory_pool())
    return bool(_LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(_LIBC.mallopt(M_ARENA_MAX, ARENA_MAX))


def release_free_memory() -> None:
    """Return freed heap to the OS: glibc's arenas and Arrow's pool otherwise keep an outage's peak for good."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
