"""`bench fetch`: how many product pages per second the direct fetcher reads, and at what memory.

Real saved pages are served by a LocalShop on 127.0.0.1, so the figure is CloudTrack's own
cost per fetch (guard, connection reuse, decompression, decoding), not a shop's latency.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import time
from collections import Counter

import click

from benchmarks.shop import CORPUS_DIR, LocalShop
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.fetch import FetchError, close_clients, fetch_page


def _corpus_ids(count: int) -> list[str]:
    ids = []
    with (CORPUS_DIR / "truth.jsonl").open(encoding="utf-8") as truth:
        for line in truth:
            page_id = json.loads(line)["id"]
            if (CORPUS_DIR / "pages" / f"{page_id}.html.gz").is_file():
                ids.append(page_id)
            if len(ids) == count:
                break
    return ids


async def _run(shop: LocalShop, urls: list[str], requests: int, concurrency: int, conditional: bool) -> None:
    settings = get_settings().model_copy(
        update={"allow_private_urls": True, "fetch_concurrency": concurrency}
    )
    etags: dict[str, str | None] = {}
    if conditional:
        for url in urls:
            etags[url] = (await fetch_page(url, settings=settings)).etag
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    received_bytes = 0

    async def one(index: int) -> None:
        nonlocal received_bytes
        url = urls[index % len(urls)]
        async with gate:
            started = time.perf_counter()
            try:
                result = await fetch_page(url, etag=etags.get(url), settings=settings)
            except FetchError as error:
                outcomes[error.kind.value] += 1
            else:
                outcomes["not_modified" if result.not_modified else "ok"] += 1
                received_bytes += len(result.body)
            latencies.append(time.perf_counter() - started)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(requests)))
    elapsed = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    await close_clients()
    latencies.sort()
    click.echo(f"fetches: {requests} over {len(urls)} real pages, concurrency {concurrency}")
    click.echo(f"outcomes: {dict(outcomes)}; shop saw {shop.total_requests} requests")
    click.echo(f"throughput: {requests / elapsed:.0f} fetches/s ({elapsed:.2f} s)")
    click.echo(
        f"latency: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.1f} ms"
    )
    click.echo(f"received: {received_bytes / requests / 1000:.0f} kB per page on average")
    click.echo(f"peak RSS: {rss_before / 1024:.0f} MB before, {rss_after / 1024:.0f} MB after")


def run(requests: int, pages: int, concurrency: int | None, latency: float, conditional: bool) -> None:
    """Fetch real saved product pages from a local shop and print fetches/s, latency and memory."""
    ids = _corpus_ids(pages)
    if not ids:
        raise click.ClickException(f"No corpus pages found in {CORPUS_DIR}.")
    with LocalShop(latency=latency) as shop:
        urls = [shop.add_corpus_page(f"/p/{page_id}", page_id) for page_id in ids]
        asyncio.run(_run(shop, urls, requests, concurrency or get_settings().fetch_concurrency, conditional))
