"""The checker: failures and backoff, politeness to shops, leases, "check now", the scheduler."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import signal
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from benchmarks.shop import LocalShop
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Product, utcnow
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking import claims
from cloudtrack_app.tracking.check_results import CheckStatus, PageResult, save_results
from cloudtrack_app.tracking.checker import Checker, check_product_now, page_fingerprint
from cloudtrack_app.tracking.claims import retry_delay
from cloudtrack_app.tracking.fetch import FetchResult, close_clients
from cloudtrack_app.tracking.rules import Observation
from cloudtrack_app.tracking.scheduler import CheckScheduler
from tests.engine_fixtures import (
    EDUSCHO_SHELF,
    SMALL_PAGE,
    alert_events,
    local_shop_settings,
    make_due,
    make_user,
    points,
    product,
    seed_products,
)


@pytest.fixture(autouse=True)
async def _close_http_clients() -> None:
    yield
    await close_clients()


async def test_a_failing_page_backs_off_and_is_marked_failing_with_its_reason(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch, FAILURE_THRESHOLD="3")
    with LocalShop() as shop:
        shop.add_corpus_page("/p", SMALL_PAGE)
        shop.set_status("/p", 404)
        (product_id,) = seed_products([shop.url("/p")], make_user(), price=Decimal("3.56"))
        delays = []
        for attempt in range(1, 4):
            make_due()
            started = utcnow()
            report = await Checker().run_cycle()
            assert report.statuses == {"failed": 1}
            state = product(product_id)
            assert state.consecutive_failures == attempt
            assert state.failing is (attempt >= 3)
            assert "404" in (state.last_error or "")
            delays.append(state.next_check_at - started)
        assert delays[0] < delays[1] < delays[2]  # exponential backoff
        assert points(product_id) == []  # a failure is no observation
        assert alert_events() == []

        shop.set_status("/p", None)
        make_due()
        report = await Checker().run_cycle()
        assert report.statuses == {"unchanged": 1}
        state = product(product_id)
        assert (state.consecutive_failures, state.failing, state.last_error) == (0, False, None)
        assert state.next_check_at - utcnow() > timedelta(hours=5)


def test_backoff_grows_and_is_capped() -> None:
    settings = get_settings().model_copy(update={"check_jitter": 0.0})
    delays = [retry_delay(settings, n).total_seconds() for n in range(1, 12)]
    base = max(300, settings.check_interval / 8)
    assert delays[:3] == [base, base * 2, base * 4]
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert delays[-1] == 24 * 3600


async def test_one_shop_gets_at_most_per_shop_concurrency_requests_at_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch, PER_SHOP_CONCURRENCY="2", FETCH_CONCURRENCY="16")
    with LocalShop(latency=0.05) as shop, LocalShop(host="127.0.0.2", latency=0.05) as other:
        shop.add_corpus_page("/page", SMALL_PAGE)
        other.serve_pages_of(shop)
        urls = [shop.add_alias(f"/a/{n}", "/page") for n in range(12)]
        urls += [other.url(shop.add_alias(f"/b/{n}", "/page").split(str(shop.port), 1)[1]) for n in range(12)]
        seed_products(urls, make_user(), etag=shop.etag("/page"), price=Decimal("3.56"))
        report = await Checker().run_cycle()
    assert report.statuses == {"not_modified": 24}
    assert shop.peak_in_flight == 2 and other.peak_in_flight == 2


async def test_a_page_without_validators_is_read_again_only_when_its_bytes_change(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop(etags=False) as shop:
        shop.add_corpus_page("/p", EDUSCHO_SHELF)
        (product_id,) = seed_products(
            [shop.url("/p")], make_user(), price=Decimal("99.95"), target=Decimal("90")
        )
        read = await Checker().run_cycle()
        make_due()
        same = await Checker().run_cycle()
        checked_before = product(product_id).last_checked_at
        shop.set_price("/p", Decimal("79.95"))
        make_due()
        changed = await Checker().run_cycle()
        assert shop.request_count("/p") == 3  # every check asks the shop
    assert read.statuses == {"unchanged": 1}
    assert same.statuses == {"same_page": 1}  # the very bytes read last time: not parsed again
    assert checked_before is not None and checked_before > utcnow() - timedelta(minutes=1)
    assert changed.statuses == {"changed": 1} and changed.alerts == 1
    assert product(product_id).last_price == Decimal("79.95") and len(alert_events()) == 1


async def test_a_page_that_could_not_be_read_is_read_again_even_with_the_same_bytes(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop(etags=False) as shop:
        shop.add_page("/p", "<html><body><h1>Kettle</h1><p>A fine kettle.</p></body></html>")
        (product_id,) = seed_products([shop.url("/p")], make_user(), price=Decimal("3.56"))
        for attempt in (1, 2):
            make_due()
            report = await Checker().run_cycle()
            assert report.statuses == {"failed": 1}
            assert product(product_id).consecutive_failures == attempt
            assert product(product_id).page_fingerprint is None


async def test_a_shop_that_is_down_is_paused_not_hammered(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch, PER_SHOP_CONCURRENCY="1")
    with LocalShop() as shop:
        shop.add_corpus_page("/page", SMALL_PAGE)
        shop.set_status("/page", 503)
        urls = [shop.add_alias(f"/p/{n}", "/page") for n in range(10)]
        ids = seed_products(urls, make_user(), price=Decimal("3.56"))
        report = await Checker().run_cycle()
        assert shop.total_requests == 3
    assert report.statuses == {"failed": 3, "deferred": 7}
    deferred = [product(i) for i in ids if product(i).consecutive_failures == 0]
    assert len(deferred) == 7
    assert all(p.next_check_at > utcnow() and p.lease_owner is None for p in deferred)


async def test_check_now_respects_the_lease_and_ownership(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop() as shop:
        shop.add_corpus_page("/p", EDUSCHO_SHELF)
        ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
        (product_id,) = seed_products([shop.url("/p")], ada, price=Decimal("99.95"))

        assert claims.claim_product(product_id, "scheduler-elsewhere", lease_seconds=60) is not None
        busy = await check_product_now(product_id, user_id=ada)
        assert busy.status == CheckStatus.BUSY and shop.total_requests == 0
        assert busy.summary == "A check of this product is running right now; see it in a moment."

        assert claims.release([product_id], "scheduler-elsewhere") == 1
        assert (await check_product_now(product_id, user_id=bob)).status == CheckStatus.NOT_FOUND
        assert (await check_product_now(product_id + 100)).status == CheckStatus.NOT_FOUND
        assert shop.total_requests == 0

        done = await check_product_now(product_id, user_id=ada)
        assert done.status == CheckStatus.UNCHANGED and done.price == Decimal("99.95")
        assert done.summary == "Checked just now: no change."
        assert shop.total_requests == 1
        shop.set_price("/p", Decimal("89.95"))
        cheaper = await check_product_now(product_id, user_id=ada)
        assert cheaper.summary == "Checked just now: the price or stock has changed."
        assert product(product_id).lease_owner is None and product(product_id).last_price == Decimal("89.95")


async def test_a_worker_that_lost_its_lease_writes_nothing(db_url: str) -> None:
    (product_id,) = seed_products(["https://shop.example/p"], make_user(), price=Decimal("10"))
    (claimed,) = claims.claim_due("slow-worker", limit=1, lease_seconds=60)
    with session_scope() as session:  # its lease ran out and another worker took over
        session.execute(sa.update(Product).values(lease_owner="other-worker"))
    page = PageResult(claimed, utcnow(), observation=Observation(Decimal("5"), "EUR", "in_stock"))
    (outcome,) = save_results([page], "slow-worker", get_settings())
    assert outcome.status == CheckStatus.LOST_LEASE
    state = product(product_id)
    assert state.last_price == Decimal("10") and state.lease_owner == "other-worker"
    assert points(product_id) == [] and alert_events() == []


async def test_a_page_switching_currency_is_a_failure_not_a_drop(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop() as shop:
        shop.add_corpus_page("/p", EDUSCHO_SHELF)
        shop.set_html("/p", shop.page("/p").replace('"priceCurrency":"EUR"', '"priceCurrency":"USD"'))
        shop.set_price("/p", Decimal("10"))
        (product_id,) = seed_products(
            [shop.url("/p")], make_user(), price=Decimal("99.95"), target=Decimal("90")
        )
        report = await Checker().run_cycle()
    assert report.statuses == {"failed": 1}
    assert "USD instead of EUR" in (product(product_id).last_error or "")
    assert alert_events() == []


async def test_the_scheduler_checks_due_products_and_finishes_claimed_work_on_shutdown(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch, SCHEDULER_ENABLED="true", PER_SHOP_CONCURRENCY="5")
    with LocalShop(latency=1.0) as shop:
        shop.add_corpus_page("/page", SMALL_PAGE)
        urls = [shop.add_alias(f"/p/{n}", "/page") for n in range(5)]
        ids = seed_products(urls, make_user(), etag=shop.etag("/page"), price=Decimal("3.56"))
        scheduler = CheckScheduler(get_settings())
        await scheduler.start()
        async with asyncio.timeout(60):
            while shop.in_flight < 5:  # the first tick runs at once and is now waiting on the shop
                await asyncio.sleep(0.02)
        await scheduler.stop()  # as on SIGTERM: stop claiming, finish what was claimed
    states = [product(i) for i in ids]
    assert all(s.lease_owner is None and s.last_checked_at and s.last_checked_at > utcnow() - timedelta(minutes=1)
               for s in states)  # fmt: skip
    assert scheduler.cycles == 1 and scheduler.last_report is not None
    assert scheduler.last_report.statuses == {"not_modified": 5}


async def test_pages_are_read_in_worker_processes_and_a_killed_worker_loses_no_page(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch, EXTRACT_PROCESSES="2", PER_SHOP_CONCURRENCY="4")
    with LocalShop(etags=False, visit_tokens=True) as shop:  # every page is read on every check
        shop.add_corpus_page("/page", EDUSCHO_SHELF)
        urls = [shop.add_alias(f"/same/{n}", "/page") for n in range(4)]
        for n in range(2):
            urls.append(shop.add_page(f"/cheaper/{n}", shop.page("/page")))
            shop.set_price(f"/cheaper/{n}", Decimal("79.95"))
        ids = seed_products(urls, make_user(), price=Decimal("99.95"), target=Decimal("90"))
        checker = Checker(get_settings())
        try:
            first = await checker.run_cycle()
            readers = checker.extractors.worker_pids()
            assert len(readers) == 2 and os.getpid() not in readers

            for pid in readers:  # as the OOM killer would: the pool is broken before the next cycle
                os.kill(pid, signal.SIGKILL)
            make_due()
            second = await checker.run_cycle()
            assert set(checker.extractors.worker_pids()).isdisjoint(readers)
        finally:
            await checker.close()
        assert shop.total_requests == 12  # every page fetched once per cycle, none twice
    assert first.statuses == {"unchanged": 4, "changed": 2} and first.alerts == 2
    assert second.statuses == {"unchanged": 6} and second.alerts == 0
    assert [product(i).last_price for i in ids] == [Decimal("99.95")] * 4 + [Decimal("79.95")] * 2
    assert all(len(points(i)) == 1 for i in ids[4:]) and len(alert_events()) == 2
    assert checker.extractors.worker_pids() == []
    assert not {child.pid for child in multiprocessing.active_children()} & set(readers)


def _fetched(
    body: bytes, url: str = "https://shop.test/kettle", charset: str | None = "utf-8"
) -> FetchResult:
    return FetchResult(url, 200, False, body, charset, "text/html", None, None)


def test_the_page_fingerprint_changes_with_any_byte_and_with_what_is_read() -> None:
    body = b"<html><body>" + b"Kettle 24.99 " * 20_000 + b"</body></html>"
    fingerprint = page_fingerprint(_fetched(body), ["span.price"])
    assert page_fingerprint(_fetched(bytes(body)), ["span.price"]) == fingerprint
    assert len(fingerprint) == 64  # the stored column's width
    changed = bytearray(body)
    changed[len(body) // 2] ^= 1
    assert page_fingerprint(_fetched(bytes(changed)), ["span.price"]) != fingerprint
    assert page_fingerprint(_fetched(body + b" "), ["span.price"]) != fingerprint
    assert page_fingerprint(_fetched(body), ["span.sale"]) != fingerprint
    assert page_fingerprint(_fetched(body), []) != fingerprint
    assert page_fingerprint(_fetched(body, url="https://shop.test/toaster"), ["span.price"]) != fingerprint
    assert page_fingerprint(_fetched(body, charset="latin-1"), ["span.price"]) != fingerprint
