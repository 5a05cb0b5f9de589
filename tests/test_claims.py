"""Leases: several checker processes never check one product twice; a dead worker's products come back."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import select

from benchmarks.shop import LocalShop
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Product, Watch, utcnow
from cloudtrack_app.tracking import claims
from cloudtrack_app.tracking.checker import Checker
from cloudtrack_app.tracking.fetch import close_clients
from tests.engine_fixtures import (
    SMALL_PAGE,
    cli_command,
    cli_env,
    local_shop_settings,
    make_user,
    seed_products,
)

pytestmark = pytest.mark.slow


def _checked_count(output: str) -> int:
    found = dict((name, int(count)) for count, name in re.findall(r"(\d+) ([a-z ]+?)(?=[,.])", output))
    return sum(found.get(name, 0) for name in ("changed", "unchanged", "not modified", "failed"))


def test_two_checker_processes_check_each_of_500_products_exactly_once(db_url: str) -> None:
    with LocalShop(latency=0.03) as shop:
        shop.add_corpus_page("/page", SMALL_PAGE)
        urls = [shop.add_alias(f"/p/{n}", "/page") for n in range(500)]
        # Seen before with the page's current ETag: the shop answers 304, the test stays fast.
        seed_products(urls, make_user(), etag=shop.etag("/page"), price=Decimal("3.56"))
        env = cli_env(CLAIM_BATCH_SIZE="10", FETCH_CONCURRENCY="4", PER_SHOP_CONCURRENCY="4")
        workers = [
            subprocess.Popen(cli_command("check", "--all"), env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [worker.communicate(timeout=300)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], outputs
        assert all(shop.request_count(f"/p/{n}") == 1 for n in range(500))
        assert shop.total_requests == 500
    counts = [_checked_count(output) for output in outputs]
    assert sum(counts) == 500, outputs
    assert min(counts) > 0, f"one process checked nothing, no concurrency was tested: {outputs}"
    with session_scope() as session:
        unchecked = session.exec(
            select(sa.func.count(Product.id)).where(
                sa.or_(
                    Product.last_checked_at < utcnow() - timedelta(minutes=30),
                    Product.lease_owner.is_not(None),
                )
            )
        ).one()
    assert unchecked == 0


async def test_a_killed_workers_products_are_checked_after_its_lease_expires(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop(latency=30) as slow_shop, LocalShop() as shop:
        slow_shop.add_corpus_page("/page", SMALL_PAGE)
        shop.add_corpus_page("/page", SMALL_PAGE)
        paths = [f"/p/{n}" for n in range(20)]
        for path in paths:
            slow_shop.add_alias(path, "/page")
            shop.add_alias(path, "/page")
        ids = seed_products([slow_shop.url(path) for path in paths], make_user())
        worker = subprocess.Popen(
            cli_command("check", "--all"),
            env=cli_env(
                LEASE_SECONDS="600",
                FETCH_CONCURRENCY="20",
                PER_SHOP_CONCURRENCY="20",
                FETCH_READ_TIMEOUT="120",
                FETCH_TOTAL_TIMEOUT="120",
            ),
            stdout=subprocess.DEVNULL,
        )
        try:
            while slow_shop.total_requests < len(paths):  # the worker has claimed and is fetching
                assert worker.poll() is None
                await _sleep()
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        with session_scope() as session:
            owners = set(session.exec(select(Product.lease_owner).where(Product.id.in_(ids))).all())
        assert len(owners) == 1 and next(iter(owners)).startswith("checker:")

        # The shop moved: point the products at the live one (same paths), as a re-check would find.
        with session_scope() as session:
            for product in session.exec(select(Product).where(Product.id.in_(ids))).all():
                product.url = product.url.replace(slow_shop.base_url, shop.base_url)
                session.add(product)

        checker = Checker()
        early = await checker.run_cycle()
        assert early.checked == 0  # leases still held by the dead worker
        assert shop.total_requests == 0

        with session_scope() as session:  # time passes: the dead worker's leases run out
            session.execute(sa.update(Product).values(lease_until=utcnow() - timedelta(seconds=1)))
        report = await checker.run_cycle()
        await close_clients()
        assert report.checked == len(paths)
        assert [shop.request_count(path) for path in paths] == [1] * len(paths), report
        with session_scope() as session:
            leftovers = session.exec(select(Product).where(Product.lease_owner.is_not(None))).all()
        assert leftovers == []


async def _sleep() -> None:
    await asyncio.sleep(0.05)


def test_only_products_with_a_checkable_watch_are_claimed(db_url: str) -> None:
    user = make_user()
    active, paused, fulfilled, due_later = seed_products(
        [f"https://shop.example/p/{n}" for n in range(4)], user
    )
    with session_scope() as session:
        for watch in session.exec(select(Watch)).all():
            if watch.product_id == paused:
                watch.active = False
            if watch.product_id == fulfilled:
                watch.mode, watch.stock_fulfilled = "stock", True
            session.add(watch)
        later = session.get(Product, due_later)
        assert later is not None
        later.next_check_at = utcnow() + timedelta(hours=1)
        session.add(later)
    first = claims.claim_due("worker-a", limit=10, lease_seconds=60)
    assert [p.id for p in first] == [active]
    assert claims.claim_due("worker-b", limit=10, lease_seconds=60) == []
    assert claims.claim_product(active, "worker-b", lease_seconds=60) is None  # held by worker-a
    assert claims.release([active], "worker-a") == 1
    assert claims.claim_product(active, "worker-b", lease_seconds=60) is not None
