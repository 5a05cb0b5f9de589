"""A full check cycle against local shops serving real saved pages: speed, CPU, memory, disk.

The shops run in a child process (their CPU is not the checker's) on 127.0.0.1…127.0.0.N,
one host per shop domain, with a fixed latency per answer. Products are seeded as they are
after an earlier check (price, availability, ETag). A share of the pages has changed since
(`changed`): those answer 200 with a lower price, are parsed, recorded and alert their
watch; the others answer 304 to the conditional GET, as unchanged pages do at shops that
send ETags. With `etags=False` every page is fetched in full, and the unchanged ones are
recognised by their bytes (the page fingerprint); with `visit_tokens=True` each answer also
carries a token of its own, as pages with session or CSRF tokens do, so every page is
fetched and parsed in full (the worst case).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import sqlalchemy as sa

from benchmarks.shop import CORPUS_DIR, LocalShop, corpus_page, page_etag
from cloudtrack_app import db as dbmod
from cloudtrack_app.long_lived import release_freed_heap
from cloudtrack_app.migrations import upgrade
from cloudtrack_app.models import Availability, PricePoint, Product, User, Watch, WatchMode, utcnow
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.checker import Checker, CycleReport, page_fingerprint
from cloudtrack_app.tracking.extract import extract
from cloudtrack_app.tracking.fetch import FetchResult, close_clients

WATCHERS = 10
INSERT_CHUNK = 1000
STALE_ETAG = '"stale"'
RSS_SAMPLE_SECONDS = 0.2


@dataclass(frozen=True)
class CorpusPrice:
    page_id: str
    price: Decimal
    currency: str | None
    availability: str


@dataclass(frozen=True)
class BenchResult:
    products: int
    shops: int
    database: str
    latency_ms: float
    changed: int
    etags: bool
    visit_tokens: bool
    seconds: float
    statuses: dict[str, int]
    alerts: int
    cpu_seconds: float
    shop_cpu_seconds: float
    peak_rss_mb: float
    readers: int
    reader_cpu_seconds: float
    readers_peak_rss_mb: float
    together_peak_rss_mb: float
    database_mb: float
    requests: int

    @property
    def checks_per_second(self) -> float:
        return sum(self.statuses.values()) / self.seconds if self.seconds else 0.0

    def _validators(self) -> str:
        if self.visit_tokens:
            return " (no ETags, a token per visit in every page: every page fetched and parsed)"
        return "" if self.etags else " (no ETags: every page fetched in full)"

    def lines(self) -> list[str]:
        checked = sum(self.statuses.values())
        return [
            f"products: {self.products} on {self.shops} shops, latency {self.latency_ms:.0f} ms, "
            f"{self.changed} changed since the last check"
            f"{self._validators()}, database {self.database}",
            f"outcomes: {', '.join(f'{k} {v}' for k, v in sorted(self.statuses.items()))}; alerts written {self.alerts}",
            f"cycle: {checked} checks in {self.seconds:.1f} s = {self.checks_per_second:.1f} checks/s",
            f"CPU (checker process): {self.cpu_seconds:.1f} s = {self.cpu_seconds / max(1, checked) * 1000:.2f} ms per check"
            f" (shop process: {self.shop_cpu_seconds:.1f} s)",
            f"page readers: {self.readers} processes, CPU {self.reader_cpu_seconds:.1f} s"
            f" = {self.reader_cpu_seconds / max(1, checked) * 1000:.2f} ms per check",
            f"peak RSS: checker process {self.peak_rss_mb:.0f} MB, page readers {self.readers_peak_rss_mb:.0f} MB,"
            f" both together {self.together_peak_rss_mb:.0f} MB (sampled every {RSS_SAMPLE_SECONDS} s)",
            f"database size after the cycle: {self.database_mb:.1f} MB",
            f"shop requests: {self.requests} ({'each product fetched once' if self.requests == self.products else 'MISMATCH'})",
            # One line to compare runs by: CPU per check, not checks/s, on a shared host.
            f"summary: {self.checks_per_second:.1f} checks/s; checker {self.cpu_seconds / max(1, checked) * 1000:.2f}"
            f" ms/check; readers {self.reader_cpu_seconds / max(1, checked) * 1000:.2f} ms/check"
            f" (their start included); peak RSS {self.together_peak_rss_mb:.0f} MB together",
        ]


def corpus_prices(corpus_dir: Path = CORPUS_DIR) -> list[CorpusPrice]:
    """The saved pages the extractor reads a price from, with what it reads."""
    found = []
    for path in sorted((corpus_dir / "pages").glob("*.html.gz")):
        page_id = path.name.removesuffix(".html.gz")
        extraction = extract(corpus_page(page_id, corpus_dir), "http://127.0.0.1/")
        if extraction.price is not None and extraction.price > 0:
            found.append(CorpusPrice(page_id, extraction.price, extraction.currency, extraction.availability))
    return found


def _serve(hosts: list[str], prices: list[CorpusPrice], changed: dict[int, Decimal], products: int,
           latency: float, etags: bool, visit_tokens: bool, conn: Connection) -> None:  # fmt: skip
    """Child process: one shop per host sharing one copy of the pages."""
    shops = [LocalShop(host=host, latency=latency, etags=etags, visit_tokens=visit_tokens) for host in hosts]
    first = shops[0]
    for seen in prices:
        first.add_corpus_page(f"/page/{seen.page_id}", seen.page_id)
    for shop in shops[1:]:
        shop.serve_pages_of(first)
    for number in range(products):
        seen = prices[number % len(prices)]
        page_path = f"/page/{seen.page_id}"
        if number in changed:
            first.add_page(f"/p/{number}", first.page(page_path))
            first.set_price(f"/p/{number}", changed[number], old_price=seen.price)
        else:
            first.add_alias(f"/p/{number}", page_path)
    for shop in shops:
        shop.start()
    ready = resource.getrusage(resource.RUSAGE_SELF)
    conn.send([shop.port for shop in shops])
    conn.recv()  # the cycle is over
    usage = resource.getrusage(resource.RUSAGE_SELF)
    serving = (usage.ru_utime + usage.ru_stime) - (ready.ru_utime + ready.ru_stime)
    conn.send((sum(shop.total_requests for shop in shops), serving))
    for shop in shops:
        shop.stop()


@dataclass(frozen=True)
class LocalShops:
    """The shops of a bench run: product `n` is at `urls[n]`; `changed` maps the products whose
    page shows a lower price since the seeded reading to that price."""

    prices: list[CorpusPrice]
    urls: list[str]
    changed: dict[int, Decimal]
    conn: Connection

    def tally(self) -> tuple[int, float]:
        """Ends the count: the requests the shops answered and the CPU seconds they used."""
        self.conn.send("done")
        return self.conn.recv()


@contextmanager
def local_shops(
    products: int, shops: int, latency_ms: float, changed_every: int, *, etags: bool, visit_tokens: bool
) -> Iterator[LocalShops]:
    """`shops` shops on 127.0.0.1…, in a child process, serving `products` saved pages; every
    `changed_every`-th (none for 0) at 90 % of its price."""
    prices = corpus_prices()
    if not prices:
        raise RuntimeError(f"No saved page with a readable price in {CORPUS_DIR}.")
    changed = {
        number: (prices[number % len(prices)].price * Decimal("0.9")).quantize(Decimal("0.01"))
        for number in range(products)
        if changed_every and number % changed_every == 0
    }
    hosts = [f"127.0.0.{n + 1}" for n in range(shops)]
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(
        target=_serve,
        args=(hosts, prices, changed, products, latency_ms / 1000, etags, visit_tokens, child),
        daemon=True,
    )
    server.start()
    try:
        ports = parent.recv()
        urls = [f"http://{hosts[n % shops]}:{ports[n % shops]}/p/{n}" for n in range(products)]
        yield LocalShops(prices, urls, changed, parent)
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()


@contextmanager
def bench_database(database_url: str | None) -> Iterator[str]:
    """A fresh migrated database: a temporary SQLite file, or a new PostgreSQL database
    on the server of `database_url` (dropped afterwards)."""
    if not database_url or dbmod.is_sqlite(database_url):
        with tempfile.TemporaryDirectory(prefix="cloudtrack-bench-") as folder:
            url = database_url or f"sqlite:///{folder}/bench.db"
            upgrade(url)
            yield url
        return
    name = f"cloudtrack_bench_{uuid.uuid4().hex[:8]}"
    admin = dbmod.make_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = dbmod.normalise_url(database_url).rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        dbmod.dispose_engines()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed(url: str, prices: list[CorpusPrice], urls: list[str], changed: dict[int, Decimal]) -> None:
    engine = dbmod.get_engine(url)
    now = utcnow()
    with engine.begin() as connection:
        user_ids = [
            connection.execute(
                sa.insert(User)
                .values(email=f"bench{n}@example.com", password_hash="-", display_name=f"Bench {n}")
                .returning(User.id)
            ).scalar_one()
            for n in range(WATCHERS)
        ]
    # Unchanged pages were last read with the ETag and bytes the shop still sends; changed ones
    # with older ones.
    texts = {p.page_id: corpus_page(p.page_id) for p in prices}
    current = {page_id: page_etag(text) for page_id, text in texts.items()}
    etags = {number: STALE_ETAG if number in changed else current[prices[number % len(prices)].page_id]
             for number in range(len(urls))}  # fmt: skip
    bodies = {page_id: text.encode("utf-8") for page_id, text in texts.items()}

    def fingerprint(number: int) -> str | None:
        if number in changed:
            return None
        body = bodies[prices[number % len(prices)].page_id]
        return page_fingerprint(FetchResult(urls[number], 200, False, body, "utf-8", "text/html", None, None))

    for start in range(0, len(urls), INSERT_CHUNK):
        numbers = range(start, min(len(urls), start + INSERT_CHUNK))
        with engine.begin() as connection:
            rows = []
            for number in numbers:
                seen = prices[number % len(prices)]
                rows.append(
                    {
                        "url": urls[number],
                        "shop_domain": urls[number].split("/")[2],
                        "title": f"Bench product {number}",
                        "currency": seen.currency,
                        "last_price": seen.price,
                        "last_availability": seen.availability,
                        "created_at": now - timedelta(days=30),
                        "last_checked_at": now - timedelta(hours=6),
                        "last_changed_at": now - timedelta(days=30),
                        "next_check_at": now - timedelta(seconds=1),
                        "etag": etags[number],
                        "page_fingerprint": fingerprint(number),
                        "consecutive_failures": 0,
                        "failing": False,
                    }
                )
            ids = connection.execute(
                sa.insert(Product).returning(Product.id, sort_by_parameter_order=True), rows
            )
            product_ids = [row[0] for row in ids]
            connection.execute(
                sa.insert(Watch),
                [
                    {
                        "user_id": user_ids[number % WATCHERS],
                        "product_id": product_id,
                        "mode": WatchMode.PRICE,
                        "target_price": (prices[number % len(prices)].price * Decimal("0.95")).quantize(
                            Decimal("0.01")
                        ),
                        "initial_price": prices[number % len(prices)].price,
                        "active": True,
                        "created_at": now - timedelta(days=30),
                        "price_armed": True,
                        "price_crossings": 0,
                        "seen_out_of_stock": False,
                        "stock_fulfilled": False,
                        "restock_count": 0,
                    }
                    for number, product_id in zip(numbers, product_ids, strict=True)
                ],
            )
            connection.execute(
                sa.insert(PricePoint),
                [
                    {
                        "product_id": product_id,
                        "checked_at": now - timedelta(minutes=1),
                        "price": prices[number % len(prices)].price,
                        "currency": prices[number % len(prices)].currency,
                        "availability": prices[number % len(prices)].availability or Availability.UNKNOWN,
                    }
                    for number, product_id in zip(numbers, product_ids, strict=True)
                ],
            )


def use_database(url: str) -> None:
    """Point this process's settings and engines at `url`."""
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    dbmod.dispose_engines()


def database_mb(url: str) -> float:
    if dbmod.is_sqlite(url):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    with dbmod.get_engine(url).connect() as connection:
        return connection.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one() / 1e6


def run_bench(
    products: int,
    *,
    latency_ms: float = 50.0,
    shops: int = 8,
    changed_share: float = 0.1,
    etags: bool = True,
    visit_tokens: bool = False,
    database_url: str | None = None,
    fetch_concurrency: int | None = None,
    per_shop_concurrency: int = 4,
    per_shop_delay: float = 0.0,
) -> BenchResult:
    etags = etags and not visit_tokens  # a page that differs on every visit has no ETag
    step = max(1, round(1 / changed_share)) if changed_share > 0 else 0
    with (
        local_shops(products, shops, latency_ms, step, etags=etags, visit_tokens=visit_tokens) as shop,
        bench_database(database_url) as url,
    ):
        use_database(url)
        _seed(url, shop.prices, shop.urls, shop.changed)
        # Seeding (every page's text and bytes, 10 000 rows) is the bench's work, not the
        # checker's: what it freed must not count as the checker's memory.
        gc.collect()
        release_freed_heap()
        settings: Settings = get_settings().model_copy(
            update={
                "allow_private_urls": True,
                "fetch_concurrency": fetch_concurrency or get_settings().fetch_concurrency,
                "per_shop_concurrency": per_shop_concurrency,
                "per_shop_delay": per_shop_delay,
            }
        )
        before = resource.getrusage(resource.RUSAGE_SELF)
        readers_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        report, rss = asyncio.run(_cycle(settings))
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        readers_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        requests, shop_cpu = shop.tally()
        size_mb = database_mb(url)
        dbmod.dispose_engines()
    return BenchResult(
        products=products,
        shops=shops,
        database="sqlite" if not database_url or dbmod.is_sqlite(database_url) else "postgresql",
        latency_ms=latency_ms,
        changed=len(shop.changed),
        etags=etags,
        visit_tokens=visit_tokens,
        seconds=seconds,
        statuses={str(k): v for k, v in report.statuses.items()},
        alerts=report.alerts,
        cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        shop_cpu_seconds=shop_cpu,
        peak_rss_mb=rss.checker_mb,
        readers=settings.extract_processes,
        reader_cpu_seconds=(readers_after.ru_utime + readers_after.ru_stime)
        - (readers_before.ru_utime + readers_before.ru_stime),
        readers_peak_rss_mb=rss.readers_mb,
        together_peak_rss_mb=rss.together_mb,
        database_mb=size_mb,
        requests=requests,
    )


@dataclass
class PeakRss:
    checker_mb: float = 0.0
    readers_mb: float = 0.0
    together_mb: float = 0.0


def rss_mb(pid: int) -> float:
    """Resident memory of a running process (Linux); 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kilobytes = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), "0")
    return int(kilobytes) / 1024


async def _sample_rss(checker: Checker, peak: PeakRss) -> None:
    # getrusage cannot say this: a child's ru_maxrss includes the parent's memory it was forked from.
    while True:
        readers = sum(rss_mb(pid) for pid in checker.extractors.worker_pids())
        own = rss_mb(os.getpid())
        peak.checker_mb = max(peak.checker_mb, own)
        peak.readers_mb = max(peak.readers_mb, readers)
        peak.together_mb = max(peak.together_mb, own + readers)
        await asyncio.sleep(RSS_SAMPLE_SECONDS)


async def _cycle(settings: Settings) -> tuple[CycleReport, PeakRss]:
    checker = Checker(settings)
    peak = PeakRss()
    sampler = asyncio.create_task(_sample_rss(checker, peak))
    try:
        return await checker.run_cycle(), peak
    finally:
        sampler.cancel()
        await checker.close()  # joins the page readers, so their CPU is in RUSAGE_CHILDREN
        await close_clients()
