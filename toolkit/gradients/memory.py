"""Freed memory kept for reuse, so that numpy's temporaries don't page-fault each time.

glibc's malloc returns memory to the system as soon as more than 128 KiB is free at the
top of the heap, and serves blocks past a (moving) threshold with fresh ``mmap`` calls.
The stacked evaluations of ``toolkit.gradients.interpolation`` and
``toolkit.gradients.perturbation`` make temporaries of about that size many times a
second; each then costs a page fault per 4 KiB touched, which made a softmax three times
slower on a virtual machine. Raising both thresholds keeps freed memory in the process
(up to ``TRIM_THRESHOLD``) instead.

This changes the whole process's allocator, so the library never does it on its own:
the ``toolkit`` command does it (unless ``TOOLKIT_RETAIN_MEMORY=0`` is set), and a
program that trains from Python may call ``retain_freed_memory()`` itself. Outside glibc
it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "retain_freed_memory"]

MMAP_THRESHOLD = 32 * 1024 * 1024
"""Blocks below this come from the heap (glibc's largest allowed value on 64-bit)."""
TRIM_THRESHOLD = 128 * 1024 * 1024
"""Free memory at the top of the heap kept before it is returned to the system."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h


@functools.cache
def retain_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds, once; whether that was done."""
    if os.environ.get("TOOLKIT_RETAIN_MEMORY", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except Exception:  # a C library without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
