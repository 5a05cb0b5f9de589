"""No one slows the app down for the others: twelve tabs reading a hostile page at once leave the
health check and another person's log-in fast, and a person asking for more is told to slow down.

The app runs here on its own, with one page reader that may spend a little less CPU on a
page than the slowest hostile page of benchmarks/hostile_pages.py takes: the twelve pages queue
behind that one reader, each ends its reader and is refused as too slow to read, and the
queue is still being worked through while the health check and the log-in are timed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from benchmarks.apprunner import RunningApp, running_app
from benchmarks.shop import LocalShop
from cloudtrack_app.auth.accounts import create_user, start_session
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.ingest import TOO_SLOW_MESSAGE
from tests.e2e.test_accounts_e2e import PASSWORD, log_in, unique_email
from tests.test_page_readers import too_slow_to_read_page

pytestmark = pytest.mark.own_app

# The page takes 0.8–1 s of CPU to read: refused at 0.5 s even on a faster CPU.
READ_CPU_SECONDS = "0.5"
# Six people with two tabs each: twelve pages queue behind the one reader, so the previews are
# still in flight after the health probes and the log-in even on a loaded two-core machine.
PEOPLE_READING = 6
HEALTH_BOUND_S = 5.0
HEALTH_PROBES = 5
HEALTH_PROBE_GAP_S = 0.3
LOGIN_BOUND_S = 25.0
TIMEOUT = 30_000
READING = "Reading the page…"


@pytest.fixture(scope="module")
def isolated_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    work = tmp_path_factory.mktemp("isolation")
    url = f"sqlite:///{work / 'isolation.db'}"
    env = {
        "CLOUDTRACK_ALLOW_PRIVATE_URLS": "true",
        "SCHEDULER_ENABLED": "false",
        "READ_PROCESSES": "1",
        "READ_CPU_SECONDS": READ_CPU_SECONDS,
        "USER_READS_AT_ONCE": "2",
        "READ_QUEUE": str(2 * PEOPLE_READING),
    }
    previous = os.environ.get("DATABASE_URL")
    with running_app(url, work, env) as app:
        os.environ["DATABASE_URL"] = url  # the test creates the people in the app's database
        get_settings.cache_clear()
        try:
            yield app
        finally:
            if previous is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = previous
            get_settings.cache_clear()


def logged_in_context(browser: Browser, name: str) -> BrowserContext:
    """A browser profile holding a fresh session of a new person (as after logging in)."""
    user = create_user(unique_email(name.lower()), PASSWORD, name)
    token = start_session(user.id)
    context = browser.new_context()
    context.add_init_script(f"window.localStorage.setItem('cloudtrack_session', {json.dumps(token)})")
    return context


def ready_to_read(context: BrowserContext, base: str, url: str) -> Page:
    page = context.new_page()
    page.goto(f"{base}/add")
    page.get_by_label("Product link").fill(url)
    return page


def start_reading(tab: Page) -> None:
    tab.get_by_role("button", name="Read page").click()
    expect(tab.get_by_text(READING)).to_be_visible(timeout=TIMEOUT)


def still_reading(tabs: list[Page]) -> int:
    return sum(tab.get_by_text(READING).is_visible() for tab in tabs)


def test_a_dozen_hostile_previews_slow_down_neither_the_health_check_nor_another_log_in(
    browser: Browser, isolated_app: RunningApp
) -> None:
    base = isolated_app.base_url
    with LocalShop() as shop:
        url = shop.add_page("/hostile", too_slow_to_read_page())
        readers = [logged_in_context(browser, f"Reader{n}") for n in range(PEOPLE_READING)]
        tabs = [ready_to_read(context, base, url) for context in readers for _ in range(2)]
        one_too_many = ready_to_read(readers[0], base, url)
        other_person = create_user(unique_email("other"), PASSWORD, "Olga")
        login_page = browser.new_context().new_page()

        # Reader0's two pages go last, at the back of the queue, so they are surely still in
        # flight when Reader0 asks for a third.
        for tab in tabs[2:] + tabs[:2]:
            start_reading(tab)
        one_too_many.get_by_role("button", name="Read page").click()

        # Once the shop has sent the pages, they are being read, one after another: the health
        # check is asked meanwhile, and answers each time.
        deadline = time.monotonic() + TIMEOUT / 1000
        while shop.request_count("/hostile") < len(tabs) and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(HEALTH_PROBES):
            asked = time.monotonic()
            health = httpx.get(f"{base}/_health", timeout=HEALTH_BOUND_S)
            assert health.status_code == 200 and time.monotonic() - asked < HEALTH_BOUND_S
            time.sleep(HEALTH_PROBE_GAP_S)
        assert still_reading(tabs), "the previews finished before the health checks were done"

        # The log-in starts while the previews are read and does not queue behind them (it
        # took 145 s when pages were read in the web process).
        assert still_reading(tabs), "the previews finished before the log-in began"
        asked = time.monotonic()
        log_in(login_page, base, other_person.email)
        expect(login_page.get_by_role("heading", name="Hello, Olga")).to_be_visible(timeout=TIMEOUT)
        assert time.monotonic() - asked < LOGIN_BOUND_S, "the log-in waited for the previews"

        # A third page at once for the same person is refused in words, not queued.
        expect(one_too_many.get_by_text("CloudTrack is already reading 2 pages for you.")).to_be_visible(
            timeout=TIMEOUT
        )

        for tab in tabs:
            expect(tab.get_by_text(TOO_SLOW_MESSAGE)).to_be_visible(timeout=120_000)
        for context in readers:
            context.close()
