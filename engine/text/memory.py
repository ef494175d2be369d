"""Keep the language model's big per-step buffers in the process instead of handing them back to the OS.

A step of the benchmark LM allocates and frees tensors of 10 to 60 MB (the [bs * bptt, vocab] logits and
their gradient, fp32 chunks, LSTM workspaces). glibc serves blocks above its mmap threshold (at most
32 MB) with mmap and unmaps them on free, so every step faults those pages in again and the kernel zeroes
them: 124 ms of system time a step on the benchmark LM (2 threads), 18-22 ms once freed blocks stay in the
heap for reuse (as jemalloc or tcmalloc would do; PyTorch's CPU tuning guide recommends either for this).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to 1 GiB come from the heap and stay there once freed; the heap above 2 GiB of free top space
# still shrinks, so a one-off peak is given back.
_MMAP_THRESHOLD_BYTES = 1 << 30
_TRIM_THRESHOLD_BYTES = 2 << 30

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse freed large blocks (once per process). True when it took effect; False on
    another C library or platform, where nothing changes."""
    global _applied
    if _applied is None:
        _applied = _set_glibc_thresholds()
    return _applied


def _set_glibc_thresholds() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )
