"""Keep freed heap memory in the process between decisions.

A decision encodes and hashes its inputs (deterministic CBOR, ~7 MB for 20 assets x 1 year):
glibc hands blocks that large back to the kernel when they are freed (its trim and mmap
thresholds adapt upward to at most 32 MB, and start at 128 KB), so the next decision
page-faults the same ~20 MB in again: about 5,000 faults and 12 ms of a 30-ms encoding,
whether it happens depends on the process's earlier allocations. The service and the enclave
are long-running processes that decide again and again; they keep the memory instead."""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2)


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds; False where the C library is not glibc (the
    setting is an optimisation only: nothing else depends on it)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
