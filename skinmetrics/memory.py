"""How the process's memory allocator treats the large arrays of a measurement.

A 12 MP photo's planes are 48 MB each (float32), and a measurement makes and frees
hundreds of them. glibc's allocator serves every block above 32 MB with a fresh ``mmap``
and returns it to the system when it is freed, so each such array costs the kernel a
page fault and a zeroing of every 4 KB page (about 10 ms a plane, 1-3 s a photo).
:func:`reuse_freed_memory` lets the allocator keep freed blocks in its heap and serve the
next array from them; the process's peak memory stays what its largest live arrays need.
The command line and its worker processes call it; a program measuring photos through
the library may call it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["HEAP_BLOCK_MAX_BYTES", "reuse_freed_memory"]

#: Blocks up to this size come from (and go back to) the allocator's heap, which also keeps
#: up to this much freed memory at its top instead of returning it to the system, bytes.
HEAP_BLOCK_MAX_BYTES = 1 << 30

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def reuse_freed_memory() -> bool:
    """Keep freed large arrays in the allocator's heap for the next ones (see the module text).

    Returns
    -------
    bool
        True when set (glibc's ``mallopt``); False where the C library has no such setting
        (the allocator is left as it is).
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCK_MAX_BYTES)
                and mallopt(_M_TRIM_THRESHOLD, HEAP_BLOCK_MAX_BYTES))
