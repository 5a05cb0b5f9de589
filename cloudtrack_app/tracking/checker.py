"""Checks: claim → fetch → read the page → save the result (`check_results`, `observations`).

Network and parsing run concurrently on the event loop (bounded globally and per shop),
reading in extractor processes; results are written by one writer per cycle in small
transactions, each product guarded by its lease.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
import xxhash

from cloudtrack_app.db import get_engine
from cloudtrack_app.long_lived import freeze_startup_objects
from cloudtrack_app.models import Product, Watch, utcnow
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking import claims
from cloudtrack_app.tracking import extract as extract_package
from cloudtrack_app.tracking.check_results import CheckOutcome, CheckStatus, PageResult, save_results
from cloudtrack_app.tracking.extractor_pool import (
    READERS_BUSY_MESSAGE,
    ExtractorPool,
    PageTooSlow,
    ReadersBusy,
    request_pool,
)
from cloudtrack_app.tracking.fetch import FetchError, FetchResult, fetch_page
from cloudtrack_app.tracking.llm_reading import ModelMemory, save_memory, second_reading
from cloudtrack_app.tracking.politeness import ShopGate
from cloudtrack_app.tracking.rules import Observation
from cloudtrack_app.tracking.status import problem_of_fetch_error

log = logging.getLogger(__name__)

WRITE_BATCH = 64
WRITE_GATHER_SECONDS = 0.1  # results wait this long at most; leases last minutes
UNREADABLE_MESSAGE = "CloudTrack could not read this page (its reader process stopped); it retries later."
TOO_SLOW_MESSAGE = "This page took too long to read; CloudTrack tries again at the next check."


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
            CheckStatus.HELD,
        )
        return sum(self.statuses[s] for s in done)

    def add(self, outcome: CheckOutcome) -> None:
        self.statuses[outcome.status] += 1
        self.alerts += outcome.alerts


@lru_cache(maxsize=1)
def _extractor_version() -> bytes:
    """Changes with the extractor's code, so that an upgrade reads every page afresh."""
    digest = hashlib.blake2b(digest_size=16)
    for source in sorted(Path(extract_package.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.digest()


def page_fingerprint(fetched: FetchResult, selectors: Sequence[str] = ()) -> str:
    """Equal for the same bytes from the same address read by the same extractor for the
    same picked selectors (a watch resumed with its pick needs the page read for it).

    Many shops send no ETag or Last-Modified, yet the same bytes while nothing changes;
    such a page need not be parsed again. A page with a per-visit token never matches
    and is simply read each time.

    The body, hundreds of kilobytes, enters by its length and 128-bit XXH3, a seventh of the
    CPU of SHA-256 (0.05 against 0.32 ms for a 450 KB page), on every fetched page. The
    fingerprint is a change detector that spares a re-read, not a security boundary: the
    shop writes the page anyway, and a chance collision only skips one reading, the next
    fetch with any other change reads it. The rest (extractor, selectors, address,
    charset) is small and keeps SHA-256. Fingerprints stored under the former whole-body
    SHA-256 never equal these, so the first check after an upgrade reads each page once;
    the column's 64 characters still fit.
    """
    digest = hashlib.sha256(_extractor_version())  # SHA-256 has CPU instructions: 2-3× BLAKE2 here
    for selector in sorted(selectors):
        digest.update(selector.encode("utf-8", "replace") + b"\0")
    digest.update(fetched.url.encode("utf-8", "replace"))
    digest.update(b"\0" + (fetched.charset or "").encode("ascii", "replace") + b"\0")
    body = fetched.body
    digest.update(b"%d:" % len(body) + xxhash.xxh3_128_digest(body))
    return digest.hexdigest()


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
            if self.queue.qsize() < WRITE_BATCH - 1:
                # A transaction costs as much as a dozen unchanged rows: let a few results gather.
                await asyncio.sleep(WRITE_GATHER_SECONDS)
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


class Checker:
    """Checks products for one worker process; create it inside the running event loop.

    `close()` it when done: it stops the extractor processes.
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
        self.extractors = ExtractorPool(processes, cpu_seconds=self.settings.read_cpu_seconds)
        freeze_startup_objects()

    async def close(self) -> None:
        await self.extractors.close()

    async def read_page(
        self,
        product: claims.ClaimedProduct,
        extractors: ExtractorPool | None = None,
        selectors: Sequence[str] = (),
    ) -> PageResult:
        """Fetch and extract one product page (in `extractors`, by default the checker's own),
        reading `selectors` (remembered picks; by default its watches') on it too; never
        raises for a bad page or shop."""
        shop = product.shop_domain
        try:
            pause = self.gate.pause_remaining(shop)
            if not pause:
                async with self.gate.slot(shop):
                    pause = self.gate.pause_remaining(shop)
                    if not pause:
                        async with self.fetch_slots:
                            return await self._fetch_and_extract(product, extractors, selectors)
            return PageResult(product, utcnow(), deferred_until=utcnow() + timedelta(seconds=pause + 1))
        except Exception:
            log.exception("checking product %s (%s) failed", product.id, product.url)
            return PageResult(
                product, utcnow(), error="CloudTrack could not read this page (internal error)."
            )

    async def _fetch_and_extract(
        self,
        product: claims.ClaimedProduct,
        extractors: ExtractorPool | None = None,
        selectors: Sequence[str] = (),
    ) -> PageResult:
        shop = product.shop_domain
        selectors = tuple(selectors) or product.selectors
        try:
            fetched = await fetch_page(
                product.url, etag=product.etag, last_modified=product.last_modified, settings=self.settings
            )
        except FetchError as error:
            self.gate.failed(shop, transient=error.transient)
            return PageResult(
                product,
                utcnow(),
                error=error.message,
                problem=problem_of_fetch_error(error),
                transient=error.transient,
            )
        self.gate.succeeded(shop)
        fingerprint = None if fetched.not_modified else page_fingerprint(fetched, selectors)
        if fetched.not_modified or fingerprint == product.page_fingerprint:
            return PageResult(
                product,
                utcnow(),
                unread=CheckStatus.NOT_MODIFIED if fetched.not_modified else CheckStatus.SAME_PAGE,
                etag=fetched.etag or product.etag,
                last_modified=fetched.last_modified or product.last_modified,
                fingerprint=product.page_fingerprint,
            )
        memory = ModelMemory(product.reading_selector, product.model_asked_at)
        try:
            extraction = await (extractors or self.extractors).read(
                fetched.body, fetched.url, fetched.charset, (*selectors, *filter(None, [memory.selector]))
            )
        except PageTooSlow:
            return PageResult(product, utcnow(), error=TOO_SLOW_MESSAGE)
        except ReadersBusy:
            return PageResult(product, utcnow(), error=READERS_BUSY_MESSAGE, transient=True)
        if extraction is None:
            return PageResult(product, utcnow(), error=UNREADABLE_MESSAGE, transient=True)
        second = await second_reading(
            memory, fetched.body, fetched.url, fetched.charset, extraction, self.settings, utcnow()
        )
        if second.remember:
            await asyncio.to_thread(save_memory, product.id, second.memory, self.owner)
        extraction = second.extraction
        observation = Observation(
            extraction.price, extraction.currency, extraction.availability, extraction.was_price
        )
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

    async def check_now(self, product_id: int, extractors: ExtractorPool | None = None) -> CheckOutcome:
        """Check one product at once, unless another worker holds its lease; the page is read
        in `extractors` (by default the checker's own pool)."""
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
        page = await self.read_page(claimed, extractors)
        if page.deferred_until is not None:
            page = await self._fetch_and_extract(claimed, extractors)
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
    product, the answer is BUSY instead of a second fetch. In the web app the page is read
    in the request pool, apart from the check cycles' readers and outside this process.
    """
    if user_id is not None and not await asyncio.to_thread(_user_watches_product, user_id, product_id):
        return CheckOutcome(product_id, CheckStatus.NOT_FOUND, "This product is not on your list.")
    readers = request_pool()
    if readers is not None and not readers.has_room():
        return CheckOutcome(product_id, CheckStatus.BUSY, READERS_BUSY_MESSAGE)
    checker = _process_checker or Checker(extract_processes=0)  # without a request pool: one page, a thread
    return await checker.check_now(product_id, readers)
