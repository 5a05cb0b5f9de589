"""Pages people ask for are read outside the web process, within a CPU bound, a bounded queue
and a per-person limit, so no one person's pages can slow the app down for the others."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from benchmarks.hostile_pages import hostile_pages
from benchmarks.shop import LocalShop, corpus_page
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.checker import TOO_SLOW_MESSAGE as CHECK_TOO_SLOW_MESSAGE
from cloudtrack_app.tracking.checker import Checker
from cloudtrack_app.tracking.extract import extract
from cloudtrack_app.tracking.extractor_pool import (
    ExtractorPool,
    PageTooSlow,
    ReadersBusy,
    request_pool_for,
    use_request_pool,
)
from cloudtrack_app.tracking.fetch import close_clients
from cloudtrack_app.tracking.ingest import TOO_SLOW_MESSAGE, IngestError, preview_url
from cloudtrack_app.tracking.read_limits import SlowDown, UserReadLimiter
from tests.engine_fixtures import EDUSCHO_SHELF, local_shop_settings, make_user, product, seed_products

URL = "https://shop.example.com/p/1"
PRICED_PAGE = (
    b"<html><head><title>Kettle</title></head><body><h1>Kettle</h1>"
    b'<span class="price">19.99 EUR</span></body></html>'
)


SLOWEST_HOSTILE_PAGE = "100k microdata items"
READ_CPU_SECONDS = 0.2


@functools.cache
def too_slow_to_read_page() -> str:
    """The page of benchmarks/hostile_pages.py that takes the extractor longest: 0.8–1 s of
    CPU (4.7 MB), well over the `READ_CPU_SECONDS` these tests allow a page."""
    return hostile_pages()[SLOWEST_HOSTILE_PAGE]


@pytest.fixture
async def one_reader() -> AsyncIterator[ExtractorPool]:
    pool = ExtractorPool(1, cpu_seconds=READ_CPU_SECONDS, max_pages=2)
    yield pool
    await pool.close()


async def test_a_page_over_its_cpu_time_is_refused_and_its_reader_replaced(one_reader: ExtractorPool) -> None:
    first = await one_reader.read(PRICED_PAGE, URL)
    assert first is not None and str(first.price) == "19.99"
    [reader] = one_reader.worker_pids()

    with pytest.raises(PageTooSlow):
        await one_reader.read(too_slow_to_read_page().encode(), URL)

    after = await one_reader.read(PRICED_PAGE, URL)
    assert after is not None and str(after.price) == "19.99"
    assert one_reader.worker_pids() and reader not in one_reader.worker_pids()


async def test_a_page_waiting_behind_a_too_slow_one_is_still_read(one_reader: ExtractorPool) -> None:
    slow = asyncio.create_task(one_reader.read(too_slow_to_read_page().encode(), URL))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(one_reader.read(PRICED_PAGE, URL))
    with pytest.raises(PageTooSlow):
        await slow
    read = await waiting
    assert read is not None and str(read.price) == "19.99"


async def test_a_page_waiting_behind_more_too_slow_pages_than_read_attempts_is_still_read() -> None:
    pool = ExtractorPool(1, cpu_seconds=READ_CPU_SECONDS)
    try:
        slow = [asyncio.create_task(pool.read(too_slow_to_read_page().encode(), URL)) for _ in range(4)]
        await asyncio.sleep(0)
        waiting = asyncio.create_task(pool.read(PRICED_PAGE, URL))
        for task in slow:
            with pytest.raises(PageTooSlow):
                await task
        read = await waiting
        assert read is not None and str(read.price) == "19.99"
    finally:
        await pool.close()


async def test_pages_read_in_reader_processes_read_as_they_do_in_this_process() -> None:
    latin_page = "<html><body><h1>Käsereibe</h1><span class='price'>12,50 €</span></body></html>"
    pages = [
        (corpus_page(EDUSCHO_SHELF).encode(), URL, None),
        (latin_page.encode("windows-1252"), "https://shop.example.com/p/käse?ü=1", "windows-1252"),
        (PRICED_PAGE, URL, ""),
        (b"", URL, "utf-8"),
    ]
    pool = ExtractorPool(2)
    try:
        # More pages at once than the readers hold, so some wait for a free reader.
        read = await asyncio.gather(*(pool.read(*page) for page in pages * 4))
    finally:
        await pool.close()
    assert read == [extract(*page) for page in pages * 4]
    assert [r.price for r in read[:4] if r is not None] == [
        Decimal("99.95"),
        Decimal("12.50"),
        Decimal("19.99"),
        None,
    ]


async def test_a_full_reader_pool_refuses_more_pages_instead_of_queueing_them(
    one_reader: ExtractorPool,
) -> None:
    held = [asyncio.create_task(one_reader.read(too_slow_to_read_page().encode(), URL)) for _ in range(2)]
    await asyncio.sleep(0)
    assert not one_reader.has_room()
    with pytest.raises(ReadersBusy):
        await one_reader.read(PRICED_PAGE, URL)
    for task in held:
        with pytest.raises(PageTooSlow):
            await task
    assert one_reader.has_room()


async def test_a_preview_of_a_page_too_slow_to_read_is_refused_in_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_shop_settings(monkeypatch, READ_CPU_SECONDS=str(READ_CPU_SECONDS), READ_PROCESSES="1")
    pool = request_pool_for(get_settings())
    use_request_pool(pool)
    try:
        with LocalShop() as shop:
            shop.add_page("/hostile", too_slow_to_read_page())
            shop.add_corpus_page("/shelf", EDUSCHO_SHELF)
            with pytest.raises(IngestError) as refused:
                await preview_url(shop.url("/hostile"))
            assert refused.value.code == "too_slow" and refused.value.message == TOO_SLOW_MESSAGE
            preview = await preview_url(shop.url("/shelf"))  # the next person's page is read as usual
            assert str(preview.price) == "99.95"
    finally:
        use_request_pool(None)
        await pool.close()
        await close_clients()


async def test_a_scheduled_check_of_a_page_too_slow_to_read_fails_in_words_and_the_others_are_read(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch, EXTRACT_PROCESSES="1", READ_CPU_SECONDS=str(READ_CPU_SECONDS))
    with LocalShop() as shop:
        hostile = shop.add_page("/hostile", too_slow_to_read_page())
        shelf = shop.add_corpus_page("/shelf", EDUSCHO_SHELF)
        hostile_id, shelf_id = seed_products([hostile, shelf], make_user(), price=Decimal("99.95"))
        checker = Checker(get_settings())
        try:
            report = await checker.run_cycle()
        finally:
            await checker.close()
            await close_clients()
    assert report.statuses == {"failed": 1, "unchanged": 1}
    assert product(hostile_id).last_error == CHECK_TOO_SLOW_MESSAGE
    assert product(shelf_id).last_error is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_person_may_have_only_so_many_pages_read_at_once() -> None:
    limiter = UserReadLimiter(at_once=2, per_minute=10, clock=Clock())
    with limiter.slot(1), limiter.slot(1):
        with pytest.raises(SlowDown) as refused, limiter.slot(1):
            pass
        assert (
            refused.value.message
            == "CloudTrack is already reading 2 pages for you. Wait until they are done."
        )
        with limiter.slot(2):  # someone else is not held up
            pass
    with limiter.slot(1):  # the earlier reads are done
        pass


def test_a_person_may_have_only_so_many_pages_read_a_minute() -> None:
    clock = Clock()
    limiter = UserReadLimiter(at_once=2, per_minute=3, clock=clock)
    for _ in range(3):
        with limiter.slot(1):
            clock.now += 10
    with pytest.raises(SlowDown) as refused, limiter.slot(1):
        pass
    assert refused.value.message == (
        "You have read many pages in the last minute. Slow down and try again in 30 s."
    )
    clock.now += 31
    with limiter.slot(1):
        pass


def test_a_refused_read_does_not_count_against_the_person() -> None:
    clock = Clock()
    limiter = UserReadLimiter(at_once=1, per_minute=2, clock=clock)
    with limiter.slot(1):
        for _ in range(5):
            with pytest.raises(SlowDown), limiter.slot(1):
                pass
    with limiter.slot(1):
        pass
