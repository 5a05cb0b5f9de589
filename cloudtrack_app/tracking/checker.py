"""Checks: claim → fetch → extract → record history → evaluate watches → write alert events.

Network and parsing run concurrently on the event loop (bounded globally and per shop);
results are written by one writer per cycle in small transactions, each product guarded by
its lease, so a worker that lost its lease (it was too slow, another worker took over)
writes nothing for that product.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import random
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from cloudtrack_app.db import get_engine, session_scope
from cloudtrack_app.i18n import decimal_string
from cloudtrack_app.models import AlertEvent, Availability, PricePoint, Product, Watch, utcnow
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking import claims
from cloudtrack_app.tracking import extract as extract_package
from cloudtrack_app.tracking.extract import Extraction, extract
from cloudtrack_app.tracking.fetch import FetchError, FetchResult, fetch_page
from cloudtrack_app.tracking.history import needs_point, stats_in_session
from cloudtrack_app.tracking.politeness import ShopGate
from cloudtrack_app.tracking.rules import (
    Observation,
    RuleAlert,
    WatchMemory,
    WatchRule,
    evaluate,
    is_fulfilled,
)

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=24)
MAX_ERROR_CHARS = 500
WRITE_BATCH = 64
_rng = random.Random()
NO_PRICE_MESSAGE = "The page no longer shows a price (the shop may have changed the page)."
UNREADABLE_MESSAGE = "CloudTrack could not read this page (its reader process stopped); it retries later."
EXTRACT_ATTEMPTS = 3


class CheckStatus(StrEnum):
    CHANGED = "changed"  # price, currency or availability differs from the last check
    UNCHANGED = "unchanged"  # fetched and read, same as before
    NOT_MODIFIED = "not_modified"  # the shop answered 304: nothing to read
    SAME_PAGE = "same_page"  # the shop sent the very bytes read last time: nothing to read
    FAILED = "failed"  # the page could not be fetched or read; see `message`
    DEFERRED = "deferred"  # its shop is paused after repeated failures; retried later
    BUSY = "busy"  # another worker is checking it right now
    NOT_FOUND = "not_found"
    LOST_LEASE = "lost_lease"  # another worker took over; its result stands


@dataclass(frozen=True)
class CheckOutcome:
    product_id: int
    status: CheckStatus
    message: str = ""
    price: Decimal | None = None
    currency: str | None = None
    availability: str = Availability.UNKNOWN
    alerts: int = 0
    failing: bool = False
    checked_at: datetime | None = None

    @property
    def summary(self) -> str:
        """One sentence for the person who asked for the check."""
        if self.message:
            return self.message
        if self.status == CheckStatus.CHANGED:
            return "Checked just now: the price or stock has changed."
        return "Checked just now: no change."


@dataclass
class CycleReport:
    statuses: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None

    @property
    def checked(self) -> int:
        done = (
            CheckStatus.CHANGED,
            CheckStatus.UNCHANGED,
            CheckStatus.NOT_MODIFIED,
            CheckStatus.SAME_PAGE,
            CheckStatus.FAILED,
        )
        return sum(self.statuses[s] for s in done)

    def add(self, outcome: CheckOutcome) -> None:
        self.statuses[outcome.status] += 1
        self.alerts += outcome.alerts


@dataclass(frozen=True)
class PageResult:
    """What the network and the extractor said about one claimed product."""

    product: claims.ClaimedProduct
    checked_at: datetime
    observation: Observation | None = None
    extraction: Extraction | None = None
    # NOT_MODIFIED or SAME_PAGE when nothing was read because nothing changed.
    unread: CheckStatus | None = None
    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    error: str | None = None
    transient: bool = False
    deferred_until: datetime | None = None


@lru_cache(maxsize=1)
def _reader_version() -> bytes:
    """Changes with the extractor's code, so that an upgrade reads every page afresh."""
    digest = hashlib.blake2b(digest_size=16)
    for source in sorted(Path(extract_package.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.digest()


def page_fingerprint(fetched: FetchResult) -> str:
    """Equal for the same bytes from the same address read by the same extractor.

    Many shops send no ETag or Last-Modified, yet the same bytes while nothing changes;
    such a page need not be parsed again. A page with a per-visit token never matches
    and is simply read each time.
    """
    digest = hashlib.sha256(_reader_version())  # SHA-256 has CPU instructions: 2-3× BLAKE2 here
    digest.update(fetched.url.encode("utf-8", "replace"))
    digest.update(b"\0" + (fetched.charset or "").encode("ascii", "replace") + b"\0")
    digest.update(fetched.body)
    return digest.hexdigest()


def next_check_delay(settings: Settings, rng: random.Random | None = None) -> timedelta:
    """The check interval with per-product jitter, so a shop's products spread over the cycle."""
    factor = 1 + (rng or _rng).uniform(-settings.check_jitter, settings.check_jitter)
    return timedelta(seconds=settings.check_interval * factor)


def retry_delay(settings: Settings, failures: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff after `failures` failed checks in a row (capped at a day)."""
    base = max(300.0, settings.check_interval / 8)
    seconds = min(MAX_BACKOFF.total_seconds(), base * 2 ** max(0, failures - 1))
    return timedelta(seconds=seconds * (1 + (rng or _rng).uniform(0, settings.check_jitter)))


def observation_of(product: Product) -> Observation | None:
    if product.last_checked_at is None and product.last_price is None:
        return None
    return Observation(product.last_price, product.currency, product.last_availability)


def insert_alert_events(session: Session, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    query = (
        insert(AlertEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(AlertEvent.id)
    )
    return len(session.execute(query).all())  # rowcount is not reliable for this on psycopg


def alert_facts(
    session: Session,
    product: Product,
    watch: Watch,
    kind: str,
    reason: str,
    crossing: int,
    previous: Observation | None,
    now: datetime,
) -> dict[str, Any]:
    """The facts a notification is composed from (see the module docs of `ingest` for the keys)."""
    stats = stats_in_session(session, product, now)
    return {
        "kind": str(kind),
        "reason": reason,
        "crossing": crossing,
        "title": product.title,
        "shop": product.shop_domain,
        "url": product.url,
        "image": product.image_url,
        "currency": product.currency,
        "price": decimal_string(product.last_price),
        "previous_price": decimal_string(previous.price if previous else None),
        "target_price": decimal_string(watch.target_price),
        "any_drop": watch.target_price is None,
        "initial_price": decimal_string(watch.initial_price),
        "mode": watch.mode,
        "availability": product.last_availability,
        "previous_availability": previous.availability if previous else None,
        "lowest_90d": decimal_string(stats.last_90_days.lowest),
        "average_90d": decimal_string(stats.last_90_days.average),
        "lowest_ever": decimal_string(stats.all_time.lowest),
        "lowest_ever_at": stats.lowest_ever_at.isoformat() if stats.lowest_ever_at else None,
        "good_deal": stats.good_deal,
        "checked_at": now.isoformat(),
    }


class PageDetails(Protocol):
    """What a read page says about its product (an `Extraction`, or ingestion's `Preview`)."""

    title: str | None
    image: str | None
    sku: str | None
    gtin: str | None
    brand: str | None
    availability_raw: str | None
    source: str | None
    confidence: float


def apply_page_details(product: Product, details: PageDetails) -> None:
    """Copy what the page says onto the product, cut to the columns' sizes."""
    product.title = (details.title or product.title or "")[:500] or None
    if details.image and len(details.image) <= 2048:
        product.image_url = details.image
    product.sku = (details.sku or product.sku or "")[:120] or None
    product.gtin = (details.gtin or product.gtin or "")[:32] or None
    product.brand = (details.brand or product.brand or "")[:200] or None
    product.availability_raw = (details.availability_raw or "")[:40] or None
    product.extraction_source = details.source
    product.extraction_confidence = details.confidence


def mark_read(product: Product, etag: str | None, last_modified: str | None) -> None:
    """The page was read: keep its validators for the next conditional request, clear failures."""
    product.etag = (etag or "")[:500] or None
    product.last_modified = (last_modified or "")[:100] or None
    product.consecutive_failures = 0
    product.failing = False
    product.last_error = None


def memory_of(watch: Watch) -> WatchMemory:
    return WatchMemory(
        price_armed=watch.price_armed,
        last_alerted_price=watch.last_alerted_price,
        price_crossings=watch.price_crossings,
        seen_out_of_stock=watch.seen_out_of_stock,
        stock_fulfilled=watch.stock_fulfilled,
        restock_count=watch.restock_count,
    )


def set_memory(watch: Watch, memory: WatchMemory) -> None:
    watch.price_armed = memory.price_armed
    watch.last_alerted_price = memory.last_alerted_price
    watch.price_crossings = memory.price_crossings
    watch.seen_out_of_stock = memory.seen_out_of_stock
    watch.stock_fulfilled = memory.stock_fulfilled
    watch.restock_count = memory.restock_count


def dedupe_key(watch_id: int, kind: str, crossing: int | str) -> str:
    return f"watch:{watch_id}:{kind}:{crossing}"


def lock_product(session: Session, product_id: int, owner: str | None = None) -> bool:
    """Take the product's row lock (PostgreSQL) or the write lock (SQLite) before reading it.

    Every writer of watch rule memory does this first, so read-modify-write on a watch
    never races with a check of the same product. With `owner`, only if it holds the lease.
    """
    query = sa.update(Product).where(Product.id == product_id)
    if owner is not None:
        query = query.where(Product.lease_owner == owner)
    return session.execute(query.values(id=Product.id)).rowcount == 1


def record_observation(
    session: Session,
    product: Product,
    previous: Observation | None,
    previous_check_at: datetime | None,
    current: Observation,
    now: datetime,
) -> int:
    """Store an observation on a locked product: history point, watch memory, alert events.

    Watches are evaluated on a change only: rules are idempotent on a repeated observation,
    and a watch whose memory is set outside a check (new, edited, resumed) is evaluated
    against the current observation there. Returns how many alert events were written.
    """
    assert product.id is not None
    if previous != current:
        product.last_changed_at = now
    product.last_price = current.price
    product.currency = current.currency or product.currency
    product.last_availability = current.availability
    if needs_point(previous, previous_check_at, current, now):
        session.add(
            PricePoint(
                product_id=product.id,
                checked_at=now,
                price=current.price,
                currency=current.currency,
                availability=current.availability,
            )
        )
    session.add(product)
    if previous == current:
        return 0
    watches = session.exec(select(Watch).where(Watch.product_id == product.id, Watch.active.is_(True))).all()
    return evaluate_watches(session, product, watches, previous, current, now)


def evaluate_watches(
    session: Session,
    product: Product,
    watches: Iterable[Watch],
    previous: Observation | None,
    current: Observation,
    now: datetime,
) -> int:
    """Run the rules of `watches` on an observation; write their memory and alert events."""
    rows: list[dict[str, Any]] = []
    for watch in watches:
        rule = WatchRule(watch.mode, watch.target_price, watch.initial_price)
        memory = memory_of(watch)
        if is_fulfilled(watch.mode, memory):
            continue
        decision = evaluate(rule, memory, previous, current)
        if decision.memory != memory:
            set_memory(watch, decision.memory)
            session.add(watch)
        for alert in decision.alerts:
            assert watch.id is not None
            rows.append(
                {
                    "watch_id": watch.id,
                    "user_id": watch.user_id,
                    "product_id": product.id,
                    "kind": str(alert.kind),
                    "dedupe_key": dedupe_key(watch.id, alert.kind, alert.crossing),
                    "created_at": now,
                    "next_attempt_at": now,
                    "facts": None,
                    "watch": watch,
                    "alert": alert,
                }
            )
    if not rows:
        return 0
    session.flush()
    for row in rows:
        alert: RuleAlert = row.pop("alert")
        row["facts"] = alert_facts(
            session, product, row.pop("watch"), alert.kind, alert.reason, alert.crossing, previous, now
        )
    return insert_alert_events(session, rows)


# Built once: the unchanged case is most checks, and building statements costs more than running them.
_UPDATE_UNCHANGED = (
    sa.update(Product)
    .where(
        Product.id == sa.bindparam("b_id"),
        Product.lease_owner == sa.bindparam("b_owner"),
        Product.last_price.is_not_distinct_from(sa.bindparam("b_price")),
        Product.currency.is_not_distinct_from(sa.bindparam("b_currency")),
        Product.last_availability == sa.bindparam("b_availability"),
        Product.last_checked_at == sa.bindparam("b_checked"),
    )
    .values(
        lease_until=None,
        lease_owner=None,
        last_checked_at=sa.bindparam("b_now"),
        next_check_at=sa.bindparam("b_next"),
        consecutive_failures=0,
        failing=False,
        last_error=None,
        etag=sa.bindparam("b_etag"),
        last_modified=sa.bindparam("b_last_modified"),
        page_fingerprint=sa.bindparam("b_fingerprint"),
    )
)


def _claimed_observation(product: claims.ClaimedProduct) -> Observation:
    return Observation(product.last_price, product.currency, product.last_availability)


def _save_unchanged(
    session: Session, page: PageResult, owner: str, settings: Settings, current: Observation
) -> CheckOutcome | None:
    """The common case in two statements at most; None when the product moved on since the claim."""
    claimed = page.product
    now = page.checked_at
    if claimed.last_checked_at is None:
        return None
    parameters = {
        "b_id": claimed.id,
        "b_owner": owner,
        "b_price": claimed.last_price,
        "b_currency": claimed.currency,
        "b_availability": claimed.last_availability,
        "b_checked": claimed.last_checked_at,
        "b_now": now,
        "b_next": now + next_check_delay(settings),
        "b_etag": (page.etag or "")[:500] or None,
        "b_last_modified": (page.last_modified or "")[:100] or None,
        "b_fingerprint": page.fingerprint,
    }
    if session.connection().execute(_UPDATE_UNCHANGED, parameters).rowcount != 1:
        return None
    if needs_point(current, claimed.last_checked_at, current, now):
        session.execute(
            sa.insert(PricePoint).values(
                product_id=claimed.id,
                checked_at=now,
                price=current.price,
                currency=current.currency,
                availability=current.availability,
            )
        )
    status = page.unread or CheckStatus.UNCHANGED
    return CheckOutcome(
        claimed.id, status, "", current.price, current.currency, current.availability, 0, False, now
    )


def _currency_changed(known: str | None, seen: str | None) -> bool:
    return bool(known and seen and known != seen)


def _save_one(session: Session, page: PageResult, owner: str, settings: Settings) -> CheckOutcome:
    product_id = page.product.id
    now = page.checked_at
    if page.deferred_until is None and page.error is None:
        claimed = _claimed_observation(page.product)
        seen = claimed if page.unread else page.observation
        readable = seen is not None and (
            seen.price is not None or seen.availability == Availability.OUT_OF_STOCK
        )
        if readable and seen == claimed:
            outcome = _save_unchanged(session, page, owner, settings, claimed)
            if outcome is not None:
                return outcome
    if not lock_product(session, product_id, owner):
        return CheckOutcome(product_id, CheckStatus.LOST_LEASE, "Another worker took this check over.")
    product = session.get(Product, product_id, populate_existing=True)
    assert product is not None
    product.lease_until = None
    product.lease_owner = None
    if page.deferred_until is not None:
        product.next_check_at = page.deferred_until
        session.add(product)
        return CheckOutcome(product_id, CheckStatus.DEFERRED, "The shop is not answering; retrying later.")
    observation = page.observation
    error = page.error
    if (
        error is None
        and observation is not None
        and observation.price is None
        and observation.availability != Availability.OUT_OF_STOCK
    ):
        error = NO_PRICE_MESSAGE
    if (
        error is None
        and observation is not None
        and _currency_changed(product.currency, observation.currency)
    ):
        error = (
            f"The page now shows prices in {observation.currency} instead of {product.currency}, "
            "so price targets no longer compare; add the watch again to track the new price."
        )
    if error is not None:
        product.page_fingerprint = None  # the same page must be read again, not taken as fine
        product.consecutive_failures += 1
        product.failing = product.consecutive_failures >= settings.failure_threshold
        product.last_error = error[:MAX_ERROR_CHARS]
        product.next_check_at = now + retry_delay(settings, product.consecutive_failures)
        session.add(product)
        return CheckOutcome(
            product_id,
            CheckStatus.FAILED,
            error,
            product.last_price,
            product.currency,
            product.last_availability,
            failing=product.failing,
            checked_at=now,
        )
    previous = observation_of(product)
    previous_check_at = product.last_checked_at
    current = previous if page.unread or observation is None else observation
    assert current is not None
    if page.extraction is not None:
        apply_page_details(product, page.extraction)
    mark_read(product, page.etag, page.last_modified)
    product.page_fingerprint = page.fingerprint
    product.last_checked_at = now
    product.next_check_at = now + next_check_delay(settings)
    alerts = record_observation(session, product, previous, previous_check_at, current, now)
    status = page.unread or (CheckStatus.CHANGED if previous != current else CheckStatus.UNCHANGED)
    return CheckOutcome(
        product_id, status, "", current.price, current.currency, current.availability, alerts, False, now
    )


def save_results(pages: list[PageResult], owner: str, settings: Settings) -> list[CheckOutcome]:
    """Write a group of results in one transaction; one by one if the group fails."""
    try:
        with session_scope() as session:
            return [_save_one(session, page, owner, settings) for page in pages]
    except Exception:
        if len(pages) == 1:
            log.exception("saving the check of product %s failed", pages[0].product.id)
            page = pages[0]
            return [CheckOutcome(page.product.id, CheckStatus.FAILED, "The result could not be saved.")]
    return [outcome for page in pages for outcome in save_results([page], owner, settings)]


class _Writer:
    """One writer per cycle: results queue up while a transaction runs, then go in together."""

    def __init__(self, owner: str, settings: Settings) -> None:
        self.owner = owner
        self.settings = settings
        self.queue: asyncio.Queue[tuple[PageResult, asyncio.Future[CheckOutcome]] | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def submit(self, page: PageResult) -> CheckOutcome:
        future: asyncio.Future[CheckOutcome] = asyncio.get_running_loop().create_future()
        await self.queue.put((page, future))
        return await future

    async def close(self) -> None:
        await self.queue.put(None)
        await self.task

    async def _run(self) -> None:
        closing = False
        while not closing:
            item = await self.queue.get()
            if item is None:
                return
            items = [item]
            while len(items) < WRITE_BATCH and not self.queue.empty():
                following = self.queue.get_nowait()
                if following is None:
                    closing = True
                    break
                items.append(following)
            try:
                outcomes = await asyncio.to_thread(
                    save_results, [page for page, _ in items], self.owner, self.settings
                )
            except Exception as error:  # the database is gone: leases expire, nothing is lost
                log.exception("writing check results failed")
                for _, future in items:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), outcome in zip(items, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


class PageReader:
    """Runs `extract` in a pool of worker processes, so a cycle parses pages on every core.

    The pool starts with the first page and lives until `close()`. Workers are spawned,
    not forked: the parent runs an event loop and threads. A worker that dies breaks
    the pool; its pages are read again in a new one, and a page that keeps killing
    workers is given up on (None) instead of being parsed in this process.
    With `processes=0` pages are read in a thread of this process.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    async def read(self, body: bytes, url: str, charset: str | None = None) -> Extraction | None:
        """What `extract` says about the page; None when its reader processes keep dying.

        Pages travel as the bytes they arrived in: text would be encoded for the pipe and
        decoded again on both sides."""
        if self.processes == 0:
            return await asyncio.to_thread(extract, body, url, charset)
        loop = asyncio.get_running_loop()
        for _ in range(EXTRACT_ATTEMPTS):
            pool = self._pool or self._start()
            try:
                return await loop.run_in_executor(pool, extract, body, url, charset)
            except BrokenProcessPool:
                self._discard(pool)
        log.error("page extraction workers died %d times on %s", EXTRACT_ATTEMPTS, url)
        return None

    def worker_pids(self) -> list[int]:
        """The running reader processes (for measuring them); the executor keeps no public list."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            log.warning("a page extraction worker died; starting new ones")
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)


class Checker:
    """Checks products for one worker process; create it inside the running event loop.

    `close()` it when done: it stops the page reader processes.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        owner: str | None = None,
        extract_processes: int | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.owner = owner or claims.new_worker_id("checker")
        self.gate = ShopGate(self.settings.per_shop_concurrency, self.settings.per_shop_delay)
        self.fetch_slots = asyncio.Semaphore(self.settings.fetch_concurrency)
        processes = self.settings.extract_processes if extract_processes is None else extract_processes
        self.reader = PageReader(processes)

    async def close(self) -> None:
        await self.reader.close()

    async def read_page(self, product: claims.ClaimedProduct) -> PageResult:
        """Fetch and extract one product page; never raises for a bad page or shop."""
        shop = product.shop_domain
        try:
            pause = self.gate.pause_remaining(shop)
            if not pause:
                async with self.gate.slot(shop):
                    pause = self.gate.pause_remaining(shop)
                    if not pause:
                        async with self.fetch_slots:
                            return await self._fetch_and_extract(product)
            return PageResult(product, utcnow(), deferred_until=utcnow() + timedelta(seconds=pause + 1))
        except Exception:
            log.exception("checking product %s (%s) failed", product.id, product.url)
            return PageResult(
                product, utcnow(), error="CloudTrack could not read this page (internal error)."
            )

    async def _fetch_and_extract(self, product: claims.ClaimedProduct) -> PageResult:
        shop = product.shop_domain
        try:
            fetched = await fetch_page(
                product.url, etag=product.etag, last_modified=product.last_modified, settings=self.settings
            )
        except FetchError as error:
            self.gate.failed(shop, transient=error.transient)
            return PageResult(product, utcnow(), error=error.message, transient=error.transient)
        self.gate.succeeded(shop)
        fingerprint = None if fetched.not_modified else page_fingerprint(fetched)
        if fetched.not_modified or fingerprint == product.page_fingerprint:
            return PageResult(
                product,
                utcnow(),
                unread=CheckStatus.NOT_MODIFIED if fetched.not_modified else CheckStatus.SAME_PAGE,
                etag=fetched.etag or product.etag,
                last_modified=fetched.last_modified or product.last_modified,
                fingerprint=product.page_fingerprint,
            )
        extraction = await self.reader.read(fetched.body, fetched.url, fetched.charset)
        if extraction is None:
            return PageResult(product, utcnow(), error=UNREADABLE_MESSAGE, transient=True)
        observation = Observation(extraction.price, extraction.currency, extraction.availability)
        return PageResult(
            product,
            utcnow(),
            observation=observation,
            extraction=extraction,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            fingerprint=fingerprint,
        )

    async def _check(self, product: claims.ClaimedProduct, writer: _Writer) -> CheckOutcome:
        return await writer.submit(await self.read_page(product))

    async def run_cycle(
        self, stop: asyncio.Event | None = None, *, max_products: int | None = None
    ) -> CycleReport:
        """Check every due product (claiming in batches) until none is due or `stop` is set.

        Products already claimed are finished even when `stop` is set, so nothing claimed
        is dropped; a hard cancel leaves leases to expire instead.
        """
        report = CycleReport()
        writer = _Writer(self.owner, self.settings)
        batch = self.settings.claim_batch_size
        pending: set[asyncio.Task[CheckOutcome]] = set()
        claimed_total = 0

        def collect(done: Iterable[asyncio.Task[CheckOutcome]]) -> None:
            for task in done:
                if not task.cancelled() and task.exception() is None:
                    report.add(task.result())

        try:
            while not (stop and stop.is_set()):
                if max_products is not None and claimed_total >= max_products:
                    break
                if len(pending) >= batch:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    collect(done)
                    continue
                limit = batch if max_products is None else min(batch, max_products - claimed_total)
                claimed = await asyncio.to_thread(
                    claims.claim_due, self.owner, limit=limit, lease_seconds=self.settings.lease_seconds
                )
                if not claimed:
                    break
                claimed_total += len(claimed)
                pending.update(asyncio.create_task(self._check(product, writer)) for product in claimed)
            if pending:
                done, pending = await asyncio.wait(pending)
                collect(done)
        finally:
            for task in pending:
                task.cancel()
            await writer.close()
        report.finished_at = utcnow()
        return report

    async def check_now(self, product_id: int) -> CheckOutcome:
        """Check one product at once, unless another worker holds its lease."""
        claimed = await asyncio.to_thread(
            claims.claim_product, product_id, self.owner, lease_seconds=self.settings.lease_seconds
        )
        if claimed is None:
            exists = await asyncio.to_thread(_product_exists, product_id)
            if not exists:
                return CheckOutcome(product_id, CheckStatus.NOT_FOUND, "This product is not tracked.")
            return CheckOutcome(
                product_id,
                CheckStatus.BUSY,
                "A check of this product is running right now; see it in a moment.",
            )
        page = await self.read_page(claimed)
        if page.deferred_until is not None:
            page = await self._fetch_and_extract(claimed)
        (outcome,) = await asyncio.to_thread(save_results, [page], self.owner, self.settings)
        return outcome


def _product_exists(product_id: int) -> bool:
    with get_engine().connect() as connection:
        return connection.execute(sa.select(Product.id).where(Product.id == product_id)).first() is not None


def _user_watches_product(user_id: int, product_id: int) -> bool:
    query = sa.select(Watch.id).where(Watch.user_id == user_id, Watch.product_id == product_id)
    with get_engine().connect() as connection:
        return connection.execute(query).first() is not None


_process_checker: Checker | None = None


def use_checker(checker: Checker | None) -> None:
    """Make `checker` (the scheduler's) serve "check now" requests in this process."""
    global _process_checker
    _process_checker = checker


async def check_product_now(product_id: int, *, user_id: int | None = None) -> CheckOutcome:
    """Check one product now for the UI; with `user_id`, only a product that user watches.

    Respects the lease: when the scheduler (here or in another worker) is checking the
    product, the answer is BUSY instead of a second fetch.
    """
    if user_id is not None and not await asyncio.to_thread(_user_watches_product, user_id, product_id):
        return CheckOutcome(product_id, CheckStatus.NOT_FOUND, "This product is not on your list.")
    if _process_checker is not None:
        return await _process_checker.check_now(product_id)
    return await Checker(extract_processes=0).check_now(product_id)  # one page: no pool to start
