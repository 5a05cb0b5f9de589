"""Settling a long-running process: what it loaded at start stays out of garbage collection,
and glibc's allocator is set for a process that reads pages for days."""

from __future__ import annotations

import ctypes
import gc
import os

_settled_in: int | None = None

# glibc's mallopt parameter for the largest request served from its "fast bins" (malloc.h).
M_MXFAST = 1


def freeze_startup_objects() -> None:
    """Move every object alive now out of the cyclic collector's reach, once per process.

    A checker or page reader lives for days with a large heap of modules, tables and compiled
    patterns that never become garbage, yet each full collection walks all of it: in a page
    reader that was about 0.9 ms of CPU per page (a 100 ms walk every hundred pages). Objects
    made later are collected as usual. Called once per process, because freezing again would
    also pin whatever cycles happen to be alive at that moment.
    """
    global _settled_in
    if _settled_in == os.getpid():
        return
    _settled_in = os.getpid()
    gc.collect()
    gc.freeze()


def _glibc() -> ctypes.CDLL | None:
    """This process's C library when it is glibc, the only one with the knobs used here."""
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return None
        return ctypes.CDLL("libc.so.6")
    except (ValueError, OSError):  # no such confstr name, no libc.so.6
        return None


def turn_off_malloc_fast_bins() -> bool:
    """True when glibc's fast bins are now off in this process. Without them the allocator
    frees lxml's many small tree nodes straight into its ordinary bins, instead of parking
    them and later sorting them all out again in `malloc_consolidate`: over the shared corpora
    (callgrind) the allocator ran about 6 % fewer instructions, the whole read 0.6 % fewer.
    Only glibc has the knob: another libc, or one that will not load, is left as it is."""
    libc = _glibc()
    try:
        return libc is not None and bool(libc.mallopt(M_MXFAST, 0))
    except AttributeError:  # a libc without mallopt
        return False


def release_freed_heap() -> bool:
    """Hand memory the process has freed back to the system (glibc's `malloc_trim`); True
    when some was. Freed heap otherwise stays resident: after a burst of large pages, or of
    setting up data the process no longer needs, it would count as the process's own."""
    libc = _glibc()
    try:
        return libc is not None and bool(libc.malloc_trim(0))
    except AttributeError:  # a libc without malloc_trim
        return False
