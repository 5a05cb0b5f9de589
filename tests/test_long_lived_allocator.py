"""The allocator settings of long-lived processes: made where glibc allows them, else left alone."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import pytest

from cloudtrack_app import long_lived


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="glibc only",
)
def test_fast_bins_are_turned_off_on_glibc() -> None:
    assert long_lived.turn_off_malloc_fast_bins() is True


def test_another_libc_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(long_lived.os, "confstr", lambda name: "musl 1.2")

    def no_loading(name: str) -> None:
        raise AssertionError("loaded a libc that is not glibc")

    monkeypatch.setattr(long_lived.ctypes, "CDLL", no_loading)
    assert long_lived.turn_off_malloc_fast_bins() is False


def test_a_platform_without_the_confstr_name_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(name: str) -> str:
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(long_lived.os, "confstr", unknown)
    assert long_lived.turn_off_malloc_fast_bins() is False


def test_a_libc_that_will_not_load_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(long_lived.os, "confstr", lambda name: "glibc 2.36")

    def missing(name: str) -> ctypes.CDLL:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(long_lived.ctypes, "CDLL", missing)
    assert long_lived.turn_off_malloc_fast_bins() is False


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="glibc only",
)
def test_freed_heap_goes_back_to_the_system() -> None:
    def resident_mb() -> float:
        status = Path(f"/proc/{os.getpid()}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024

    long_lived.turn_off_malloc_fast_bins()
    # Many small blocks, as pages and rows leave them: too small for their own mapping, so
    # freeing them leaves the heap grown until it is trimmed.
    blocks = [bytes(2000) + str(n).encode() for n in range(60_000)]
    keep = blocks[-1]
    del blocks
    before = resident_mb()
    assert long_lived.release_freed_heap() is True
    assert resident_mb() < before - 50
    assert keep.endswith(b"59999")


def test_nothing_is_released_on_another_libc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(long_lived.os, "confstr", lambda name: "musl 1.2")
    assert long_lived.release_freed_heap() is False
