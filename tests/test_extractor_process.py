"""The reader process's start: the allocator setting it makes where glibc allows it."""

from __future__ import annotations

import ctypes
import os
import sys

import pytest

from cloudtrack_app.tracking import extractor_process


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="glibc only",
)
def test_fast_bins_are_turned_off_on_glibc() -> None:
    assert extractor_process.turn_off_malloc_fast_bins() is True


def test_another_libc_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extractor_process.os, "confstr", lambda name: "musl 1.2")

    def no_loading(name: str) -> None:
        raise AssertionError("loaded a libc that is not glibc")

    monkeypatch.setattr(extractor_process.ctypes, "CDLL", no_loading)
    assert extractor_process.turn_off_malloc_fast_bins() is False


def test_a_platform_without_the_confstr_name_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(name: str) -> str:
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(extractor_process.os, "confstr", unknown)
    assert extractor_process.turn_off_malloc_fast_bins() is False


def test_a_libc_that_will_not_load_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extractor_process.os, "confstr", lambda name: "glibc 2.36")

    def missing(name: str) -> ctypes.CDLL:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(extractor_process.ctypes, "CDLL", missing)
    assert extractor_process.turn_off_malloc_fast_bins() is False
