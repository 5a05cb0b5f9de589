"""`bench …`: speed and quality measurements, printed as figures.

The benches live in the top-level `benchmarks` package, which a source checkout has and the
container image leaves out. Each command imports its bench when it runs, so `--help` stays fast
and a copy without the benchmarks says so instead of failing with a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

NOT_INSTALLED = (
    "The benchmarks are not installed here (the container image leaves them out): "
    "run `bench` from a source checkout of CloudTrack."
)


@contextmanager
def benchmarks_installed() -> Iterator[None]:
    """Around a `from benchmarks… import`: a missing package becomes a one-line error."""
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name != "benchmarks":
            raise
        raise click.ClickException(NOT_INSTALLED) from None


@click.group()
def bench() -> None:
    """Measure speed and quality (figures go in issue notes, not in unit tests)."""


@bench.command("checks")
@click.option(
    "--products", "products", type=int, default=1000, show_default=True, help="Products in the cycle."
)
@click.option("--latency-ms", type=float, default=50.0, show_default=True, help="Shop answer latency.")
@click.option("--shops", type=int, default=8, show_default=True, help="Shop domains (127.0.0.1 … 127.0.0.N).")
@click.option(
    "--changed", "changed_share", type=float, default=0.1, show_default=True,
    help="Share of pages changed since the last check (parsed, recorded, alerting).",
)  # fmt: skip
@click.option(
    "--no-etags", is_flag=True, help="Shops send no ETags: every page is fetched and parsed in full."
)
@click.option(
    "--visit-tokens",
    is_flag=True,
    help="No ETags and a token per visit in every page: every page is fetched and parsed (worst case).",
)
@click.option(
    "--database-url", default=None, help="PostgreSQL server to use (a fresh database is made on it)."
)
@click.option("--fetch-concurrency", type=int, default=None, help="Default: FETCH_CONCURRENCY.")
@click.option("--per-shop-concurrency", type=int, default=4, show_default=True, help="PER_SHOP_CONCURRENCY.")
@click.option(
    "--per-shop-delay", type=float, default=0.0, show_default=True, help="PER_SHOP_DELAY (seconds)."
)
def checks(
    products: int,
    latency_ms: float,
    shops: int,
    changed_share: float,
    no_etags: bool,
    visit_tokens: bool,
    database_url: str | None,
    fetch_concurrency: int | None,
    per_shop_concurrency: int,
    per_shop_delay: float,
) -> None:
    """Run one full check cycle against local shops and print checks/s, CPU, RSS and database size."""
    if products < 1 or not 1 <= shops <= 250 or not 0 <= changed_share <= 1:
        raise click.UsageError("Use --products ≥ 1, --shops 1…250 and --changed 0…1.")
    with benchmarks_installed():
        from benchmarks.checks import run_bench

    result = run_bench(
        products,
        latency_ms=latency_ms,
        shops=shops,
        changed_share=changed_share,
        etags=not no_etags,
        visit_tokens=visit_tokens,
        database_url=database_url,
        fetch_concurrency=fetch_concurrency,
        per_shop_concurrency=per_shop_concurrency,
        per_shop_delay=per_shop_delay,
    )
    for line in result.lines():
        click.echo(line)


@bench.command("replicas")
@click.option("--products", type=int, default=10_000, show_default=True, help="Products in the cycle.")
@click.option("--latency-ms", type=float, default=50.0, show_default=True, help="Shop answer latency.")
@click.option("--shops", type=int, default=8, show_default=True, help="Shop domains (127.0.0.1 … 127.0.0.N).")
@click.option(
    "--database-url",
    required=True,
    help="PostgreSQL server to use (fresh databases are made on it and dropped afterwards).",
)
@click.option(
    "--plan-rows",
    type=int,
    default=1_000_000,
    show_default=True,
    help="Products in the table the claim query is explained on (0: skip the plan).",
)
@click.option(
    "--fetch-concurrency", type=int, default=16, show_default=True, help="FETCH_CONCURRENCY per replica."
)
@click.option("--per-shop-concurrency", type=int, default=4, show_default=True, help="PER_SHOP_CONCURRENCY.")
def replicas(
    products: int,
    latency_ms: float,
    shops: int,
    database_url: str,
    plan_rows: int,
    fetch_concurrency: int,
    per_shop_concurrency: int,
) -> None:
    """One check cycle on PostgreSQL by one checker replica, then by two: checks/s, CPU per
    check, peak RSS per replica, each product fetched once; then the claim query's plan."""
    if products < 1 or not 1 <= shops <= 250 or plan_rows < 0:
        raise click.UsageError("Use --products ≥ 1, --shops 1…250 and --plan-rows ≥ 0.")
    with benchmarks_installed():
        from benchmarks.replicas import run_bench

    try:
        result = run_bench(
            products,
            latency_ms=latency_ms,
            shops=shops,
            database_url=database_url,
            plan_rows=plan_rows,
            fetch_concurrency=fetch_concurrency,
            per_shop_concurrency=per_shop_concurrency,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    for line in result.lines():
        click.echo(line)


@bench.command("fetch")
@click.option("--requests", "requests", type=int, default=2000, show_default=True, help="Fetches to make.")
@click.option("--pages", type=int, default=50, show_default=True, help="Distinct corpus pages served.")
@click.option("--concurrency", type=int, default=None, help="Fetches in flight. Default: FETCH_CONCURRENCY.")
@click.option(
    "--latency", type=float, default=0.0, show_default=True, help="Seconds the shop waits per answer."
)
@click.option("--conditional", is_flag=True, help="Send ETags from a first pass, so the shop answers 304.")
def fetch(requests: int, pages: int, concurrency: int | None, latency: float, conditional: bool) -> None:
    """Fetch real saved product pages from a local shop and print fetches/s, latency and memory."""
    with benchmarks_installed():
        from benchmarks import fetching

    fetching.run(requests, pages, concurrency, latency, conditional)


@bench.command("extraction")
@click.option(
    "--corpus",
    "corpora",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    multiple=True,
    help="Folder with truth.jsonl and pages/<id>.html.gz (the format of shared/corpus/product-pages); "
    "repeat for several, which are also scored together. Default: the shared corpora.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="Timing runs per page (best kept).",
)
@click.option(
    "--strict-availability",
    is_flag=True,
    help="Score an `unknown` stock reading as missing, not as the labels' default `in_stock`.",
)
@click.option("--failures", is_flag=True, help="List the pages with a wrong or missing field.")
@click.option(
    "--hostile", is_flag=True, help="Also time the generated worst-case pages (≤ 5 MB each, limit 1 s CPU)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def extraction(
    corpora: tuple[Path, ...],
    repeat: int,
    strict_availability: bool,
    failures: bool,
    hostile: bool,
    as_json: bool,
) -> None:
    """Precision, recall and F1 of price, currency and stock on saved pages, in-stock pages
    read as out of stock, and the CPU time per page of extraction next to a plain lxml parse."""
    import json

    with benchmarks_installed():
        from benchmarks.extraction import (
            SHARED_CORPORA,
            combine,
            format_hostile,
            format_report,
            hostile_times,
            run,
        )

    folders = list(corpora) or [c for c in SHARED_CORPORA if (c / "truth.jsonl").exists()]
    if not folders:
        raise click.UsageError("No corpus found: pass --corpus FOLDER.")
    reports = [run(folder, repeat=repeat, strict_availability=strict_availability) for folder in folders]
    if len(reports) > 1:
        reports.append(combine(reports))
    times = hostile_times() if hostile else None
    if as_json:
        # One corpus keeps the shape scripts already read; several are listed, "together" last.
        data = reports[0].as_dict() if len(reports) == 1 else {"corpora": [r.as_dict() for r in reports]}
        if times is not None:
            data["hostile"] = [vars(t) for t in times]
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for report in reports:
        click.echo(format_report(report, show_failures=failures and report.name != "together"))
        click.echo("")
    if times is not None:
        click.echo(format_hostile(times))


@bench.command("ui")
@click.option("--watches", default=500, show_default=True, help="Watches of the benchmark user.")
@click.option("--days", default=365, show_default=True, help="Days of daily history per product.")
@click.option("--runs", default=5, show_default=True, help="Measured page loads of each kind.")
@click.option("--chromium", default="/usr/bin/chromium", show_default=True, help="The browser to drive.")
def ui(watches: int, days: int, runs: int, chromium: str) -> None:
    """Time to a rendered dashboard (N watches) and product chart (a year of points) in Chromium."""
    with benchmarks_installed():
        from benchmarks import ui as ui_bench

    ui_bench.run(watches, days, runs, chromium)


@bench.command("history")
@click.option("--products", type=int, default=10000, show_default=True, help="Products with history.")
@click.option("--days", type=int, default=365, show_default=True, help="Days of daily points each.")
@click.option("--samples", type=int, default=300, show_default=True, help="Products whose queries are timed.")
@click.option(
    "--database-url", default=None, help="PostgreSQL server to use (a fresh database is made on it)."
)
def history(products: int, days: int, samples: int, database_url: str | None) -> None:
    """Seed a year of history and time the chart and statistics queries."""
    if products < 1 or days < 1 or samples < 1:
        raise click.UsageError("Use --products, --days and --samples ≥ 1.")
    with benchmarks_installed():
        from benchmarks.history import run

    for line in run(products, days, samples, database_url):
        click.echo(line)


@bench.command("cli")
@click.option("--runs", type=click.IntRange(1, 100), default=5, show_default=True, help="Timed runs of each.")
@click.option(
    "--page",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Saved page for `probe` (default: the smallest page of the shared corpus).",
)
def cli(runs: int, page: Path | None) -> None:
    """Wall time of `--help`, each command's `--help` and `probe FILE`, each in a fresh interpreter."""
    with benchmarks_installed():
        from benchmarks.cli_startup import run

    for line in run(runs, page):
        click.echo(line)


@bench.command("api")
@click.option("--watches", type=int, default=500, show_default=True, help="Watches of the benchmark user.")
@click.option("--days", type=int, default=365, show_default=True, help="Days of daily history per product.")
@click.option(
    "--seconds", type=float, default=5.0, show_default=True, help="Time spent on each request kind."
)
@click.option(
    "--database-url", default=None, help="PostgreSQL server to use (a fresh database is made on it)."
)
def api(watches: int, days: int, seconds: float, database_url: str | None) -> None:
    """Requests per second of the REST API: GET /watches and GET /products/{id} with a year of history."""
    if watches < 1 or days < 1 or seconds <= 0:
        raise click.UsageError("Use --watches and --days ≥ 1 and --seconds > 0.")
    with benchmarks_installed():
        from benchmarks.api import run

    for line in run(watches, days, seconds, database_url):
        click.echo(line)
