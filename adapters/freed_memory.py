"""Giving large freed blocks back to the system at once (glibc), for the import's processes.

glibc's ``malloc`` takes a block of ``M_MMAP_THRESHOLD`` bytes or more (128 KiB at
first) from its own ``mmap``, returned to the system when freed, and anything smaller
from its heap, whose freed memory stays in the process for later. Each time a
mapped block is freed the threshold rises to that block's size (up to 32 MiB).
An import frees blocks of megabytes all the time (4 MiB pages, a tool output's
line and its texts, decompressed frames), so the threshold soon passes them: they
all come from the heap, which then holds ~10-15 MiB more than is live
(ADR 0015). A fixed threshold keeps them mapped; the price is the page faults of
touching that memory afresh each time.

Elsewhere (another C library, another system) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
"""``mallopt``'s parameter (glibc's ``malloc.h``); setting it also stops its rising."""

THRESHOLD_BYTES = 1024 * 1024
"""Blocks from this size up are mapped, and unmapped when freed."""


def give_back_large_blocks(threshold: int = THRESHOLD_BYTES) -> bool:
    """From now on (and in processes forked after), blocks of ``threshold`` bytes or more
    go back to the system when freed; whether the C library took the setting."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
