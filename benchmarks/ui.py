"""`bench ui`: how fast the dashboard and a product chart render in Chromium.

Starts the real app (production build) on a fresh SQLite file, seeds one user with N
watches and a year of daily history each, logs in with Playwright and measures the time
from navigation to a fully rendered page: the dashboard's first page of cards, and a
product page's chart (90 days on load, then the whole year).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

from benchmarks.apprunner import running_app
from benchmarks.seed import seed_watches
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.fetch import BROWSER_ARGS

PASSWORD = "benchmark password"


def _timed(action: Callable[[], object], ready: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    ready()
    return time.perf_counter() - started


def _summary(name: str, seconds: list[float]) -> str:
    return (
        f"{name:<34} median {statistics.median(seconds) * 1000:7.0f} ms   "
        f"min {min(seconds) * 1000:6.0f} ms   max {max(seconds) * 1000:6.0f} ms   (n={len(seconds)})"
    )


def run(watches: int, days: int, runs: int, chromium: str) -> None:
    """Time to a rendered dashboard (N watches) and product chart (a year of points) in Chromium."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError as error:
        raise click.ClickException(
            "bench ui needs Playwright: pip install -r requirements-dev.txt"
        ) from error
    if not Path(chromium).exists():
        raise click.ClickException(f"No Chromium at {chromium} (apt-get install chromium).")

    with tempfile.TemporaryDirectory(prefix="cloudtrack-bench-ui-") as work_dir:
        work = Path(work_dir)
        url = f"sqlite:///{work / 'bench.db'}"
        click.echo("Starting the app (production build)…")
        with running_app(url, work, {"SCHEDULER_ENABLED": "false"}) as app:
            os.environ["DATABASE_URL"] = url
            get_settings.cache_clear()
            started = time.perf_counter()
            user = seed_watches("bench@example.com", PASSWORD, watches, days=days)
            click.echo(f"Seeded {watches} watches × {days} days in {time.perf_counter() - started:.1f} s")
            product = f"{app.base_url}/products/{user.product_ids[0]}"

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=list(BROWSER_ARGS))
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{app.base_url}/login")
                page.get_by_label("Email").fill(user.email)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                cards = page.get_by_test_id("watch-card")
                expect(cards.first).to_be_visible(timeout=60_000)
                chart_line = page.locator("path.recharts-line-curve")

                dashboard, chart_load, chart_year = [], [], []
                for _ in range(runs + 1):  # the first load of each warms caches and is not counted
                    dashboard.append(
                        _timed(
                            lambda: page.goto(f"{app.base_url}/"),
                            lambda: expect(cards.nth(min(watches, 24) - 1)).to_be_visible(timeout=60_000),
                        )
                    )
                    chart_load.append(
                        _timed(
                            lambda: page.goto(product),
                            lambda: expect(chart_line).to_be_visible(timeout=60_000),
                        )
                    )
                    ninety_days = chart_line.get_attribute("d") or ""
                    chart_year.append(
                        _timed(
                            lambda: page.get_by_role("radio", name="1 year").click(),
                            lambda d=ninety_days: expect(chart_line).not_to_have_attribute(
                                "d", d, timeout=60_000
                            ),
                        )
                    )
                browser.close()
            database_bytes = (work / "bench.db").stat().st_size

    click.echo(f"\nDatabase: {database_bytes / 1e6:.1f} MB")
    click.echo(_summary(f"dashboard, {watches} watches", dashboard[1:]))
    click.echo(_summary("product page, chart (90 days)", chart_load[1:]))
    click.echo(_summary(f"chart switched to {days} days", chart_year[1:]))
    click.echo("Targets: dashboard ≤ 1500 ms, chart ≤ 1000 ms.")
