"""Two replicas of the app on one PostgreSQL database and one Redis: what compose.yaml runs.

Both replicas run the scheduler and the alert dispatcher, with Telegram in webhook mode, as the
README's "Scaling out" section says to run them. A person logs in on one and goes on on the
other; a product is checked once per cycle, not once per replica; an alert reaches the
stubs once; and a replica killed with SIGKILL in the middle of a check cycle loses nothing:
the other one checks its products once their leases run out, and no e-mail arrives twice
(Resend answers a retry's idempotency key with the first e-mail).

Both replicas start from this worktree, one after the other, each with its own port and data
folder. A frontend build names its backend's port, so each builds its own in a copy of the
worktree's web folder whose npm packages are hard links: no second npm install, and neither
build touches the files another app of the session serves. Runs whenever PostgreSQL and
Redis are reachable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis
import sqlalchemy as sa
from playwright.sync_api import Browser, expect
from sqlmodel import select

from benchmarks.apprunner import RunningApp, running_app
from benchmarks.shop import LocalShop
from cloudtrack_app import db as dbmod
from cloudtrack_app.auth.accounts import create_user
from cloudtrack_app.db import session_scope
from cloudtrack_app.migrations import upgrade
from cloudtrack_app.models import AlertEvent, Product, User, utcnow
from cloudtrack_app.settings import PROJECT_ROOT, get_settings
from tests.conftest import PG_AVAILABLE, PG_URL
from tests.e2e.test_accounts_e2e import PASSWORD, log_in, unique_email
from tests.engine_fixtures import SMALL_PAGE, make_due, seed_products
from tests.stubs import RESEND_TEST_KEY, TELEGRAM_TEST_TOKEN, ResendStub, TelegramStub

VIKING = "zpeb_2b9b46483ad6335f"  # nay.sk, 13.40 EUR, in stock
REDIS_URL = os.environ.get("CLOUDTRACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
TIMEOUT = 30_000
CHAT_ID = 424242
LEASE_SECONDS = 10  # the least LEASE_SECONDS allows: a dead replica's products come back soon
SLOW_SHOP_LATENCY = 3.0  # long enough to kill a replica while its fetches are in flight
KILLED_CYCLE_PRODUCTS = 8


def _redis_reachable() -> bool:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
        return True
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not PG_AVAILABLE, reason=f"two replicas need PostgreSQL; none reachable at {PG_URL}"),
    pytest.mark.skipif(
        not _redis_reachable(),
        reason=f"two replicas need Redis; none reachable at {REDIS_URL} (CLOUDTRACK_TEST_REDIS_URL)",
    ),
]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


@pytest.fixture(scope="module")
def shared_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for the two replicas, dropped afterwards."""
    name = f"cloudtrack_replicas_{uuid.uuid4().hex[:10]}"
    admin = dbmod.make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url  # the test reads and seeds the replicas' database
    get_settings.cache_clear()
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        get_settings.cache_clear()
        dbmod.dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[redis.Redis]:
    """The Redis database the replicas keep Reflex's state in, empty before and after."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


class Replicas:
    def __init__(self, a: RunningApp, b: RunningApp, resend: ResendStub, telegram: TelegramStub) -> None:
        self.a, self.b, self.resend, self.telegram = a, b, resend, telegram


def owned_by(replica: RunningApp, lease_owner: str | None) -> bool:
    """Whether a lease owner (`role:host:pid:nonce`) is a live process of `replica`."""
    if not lease_owner:
        return False
    try:
        return os.getpgid(int(lease_owner.split(":")[-2])) == replica.process.pid
    except (ProcessLookupError, ValueError):
        return False


def frontend_copy(web: Path, destination: Path) -> Path:
    """A copy of the web folder `web`, its node_modules hard-linked."""
    shutil.copytree(web, destination, symlinks=True, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run(["cp", "-al", str(web / "node_modules"), str(destination / "node_modules")], check=True)
    return destination


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, shared_database: str, shared_redis: redis.Redis
) -> Iterator[Replicas]:
    with ResendStub() as resend, TelegramStub() as telegram:
        env = {
            # What must be the same on every replica (README, "Scaling out").
            "REFLEX_REDIS_URL": REDIS_URL,
            "SECRET_KEY": "replica-test-secret-key-the-same-on-both-replicas",
            "PUBLIC_URL": "http://cloudtrack.test",
            "GRANIAN_WORKERS": "1",
            "SCHEDULER_ENABLED": "true",
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TEST_TOKEN,
            "TELEGRAM_API_URL": telegram.url,
            "RESEND_API_KEY": RESEND_TEST_KEY,
            "RESEND_API_URL": resend.url,
            "EMAIL_FROM": "CloudTrack <alerts@cloudtrack.test>",
            "CLOUDTRACK_ALLOW_PRIVATE_URLS": "true",
            # Short enough for a test: a tick a second, small batches, the shortest leases.
            "TICK_SECONDS": "1",
            "NOTIFY_DISPATCH_SECONDS": "1",
            "NOTIFY_LEASE_SECONDS": str(LEASE_SECONDS),
            "LEASE_SECONDS": str(LEASE_SECONDS),
            "CLAIM_BATCH_SIZE": "2",
            "PER_SHOP_DELAY": "0",
            "PER_SHOP_CONCURRENCY": "8",
        }
        work_a, work_b = tmp_path_factory.mktemp("replica-a"), tmp_path_factory.mktemp("replica-b")
        # A frontend build names its backend's port, so each replica builds its own, in a copy
        # of the worktree's web folder with its npm packages hard-linked: no second npm install,
        # and no build here rewrites the files another app of the test session serves.
        web = PROJECT_ROOT / ".web"
        a_web = frontend_copy(web, work_a / "web") if (web / "node_modules").is_dir() else web
        with running_app(shared_database, work_a, {**env, "REFLEX_WEB_WORKDIR": str(a_web)}) as a:
            b_web = frontend_copy(a_web, work_b / "web")
            with running_app(shared_database, work_b, {**env, "REFLEX_WEB_WORKDIR": str(b_web)}) as b:
                yield Replicas(a, b, resend, telegram)


def _emails_mentioning(resend: ResendStub, address: str, text: str) -> list[dict]:
    return [mail for mail in resend.emails if mail["to"] == [address] and text in mail["text"]]


def _telegrams_mentioning(telegram: TelegramStub, text: str) -> list[dict]:
    return [message for message in telegram.messages_to(CHAT_ID) if text in message.get("text", "")]


def test_two_replicas_share_sessions_check_once_and_survive_one_being_killed(
    replicas: Replicas, browser: Browser, shared_redis: redis.Redis
) -> None:
    a, b = replicas.a, replicas.b
    for replica in (a, b):
        health = httpx.get(f"{replica.base_url}/_health", timeout=10).json()
        assert health.get("db") and health.get("redis"), health

    # Telegram runs as a webhook: registered, and neither replica polls for updates.
    assert replicas.telegram.webhook is not None
    assert replicas.telegram.webhook["url"] == "http://cloudtrack.test/telegram/webhook"
    assert not [call for call, _ in replicas.telegram.calls if call == "getUpdates"]

    email = unique_email("replicas")
    user = create_user(email, PASSWORD, "Rita")
    with session_scope() as session:  # as after pressing Start in the bot
        account = session.get(User, user.id)
        assert account is not None
        account.telegram_chat_id = CHAT_ID
        session.add(account)

    with LocalShop() as shop:
        url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
        path = url.removeprefix(shop.base_url)

        # Log in and add a product on replica A.
        context = browser.new_context()
        page = context.new_page()
        log_in(page, a.base_url, email)
        expect(page.get_by_role("heading", name="Hello, Rita")).to_be_visible(timeout=TIMEOUT)
        page.goto(f"{a.base_url}/add")
        page.get_by_label("Product link").fill(url)
        page.get_by_role("button", name="Read page").click()
        expect(page.get_by_test_id("found-title")).to_contain_text("Viking 4v1", timeout=TIMEOUT)
        page.get_by_label("Target price").fill("12.00")
        page.get_by_role("button", name="Start watching").click()
        expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
        product_id = int(page.url.rsplit("/", 1)[1])

        # Go on on replica B: the same browser storage, as behind one address and a proxy.
        session_token = page.evaluate("window.localStorage.getItem('cloudtrack_session')")
        tab_storage = page.evaluate("JSON.stringify(Object.assign({}, window.sessionStorage))")
        client_token = json.loads(tab_storage)["token"]
        assert session_token and shared_redis.keys(f"{client_token}*"), "A keeps the tab's state in Redis"
        on_b = browser.new_context()
        on_b.add_init_script(
            f"window.localStorage.setItem('cloudtrack_session', {json.dumps(session_token)});"
            f"Object.entries({tab_storage}).forEach(([k, v]) => window.sessionStorage.setItem(k, v));"
        )
        page_b = on_b.new_page()
        page_b.goto(b.base_url)
        expect(page_b.get_by_role("heading", name="Hello, Rita")).to_be_visible(timeout=TIMEOUT)
        card = page_b.get_by_test_id("watch-card").filter(has_text="Viking 4v1")
        expect(card.get_by_test_id("price")).to_have_text("€13.40", timeout=TIMEOUT)
        expect(card).to_contain_text("Target: €12.00")
        page_b.goto(f"{b.base_url}/products/{product_id}")
        expect(page_b.get_by_test_id("current-price")).to_have_text("€13.40", timeout=TIMEOUT)
        context.close()
        on_b.close()

        # Checked once per cycle, not once per replica: both tick every second, and the
        # product is not due again for CHECK_INTERVAL.
        hits_after_adding = shop.request_count(path)
        assert hits_after_adding >= 1
        time.sleep(6)
        assert shop.request_count(path) == hits_after_adding

        # The next cycle: one fetch in all, and its alert reaches each channel once.
        shop.set_price(path, Decimal("11.50"))
        make_due(product_id)
        wait_for(lambda: _emails_mentioning(replicas.resend, email, "11.50"), 30, "the price alert e-mail")
        wait_for(lambda: _telegrams_mentioning(replicas.telegram, "11.50"), 30, "the price alert on Telegram")
        time.sleep(4)  # time for a second replica to do it again, if it were going to
        assert shop.request_count(path) == hits_after_adding + 1
        assert len(_emails_mentioning(replicas.resend, email, "11.50")) == 1
        assert len(_telegrams_mentioning(replicas.telegram, "11.50")) == 1

    # Replica B is killed mid-cycle: its fetches are in flight, its leases held.
    with LocalShop(latency=SLOW_SHOP_LATENCY) as slow_shop:
        slow_shop.add_corpus_page("/page", SMALL_PAGE)  # 3.56 EUR
        paths = [f"/k/{n}" for n in range(KILLED_CYCLE_PRODUCTS)]
        urls = [slow_shop.add_alias(p, "/page") for p in paths]
        seeded_at = utcnow()
        # Under a half of the last price would wait for a second look (SECOND_LOOK_SECONDS).
        ids = seed_products(urls, user.id, price=Decimal("4.99"), target=Decimal("4.00"))
        path_of = dict(zip(ids, paths, strict=True))

        def b_in_flight() -> dict[int, datetime]:
            with session_scope() as session:
                rows = session.exec(
                    select(Product.id, Product.lease_owner, Product.lease_until).where(Product.id.in_(ids))
                ).all()
            return {
                pid: until
                for pid, owner, until in rows
                if owned_by(b, owner) and slow_shop.request_count(path_of[pid]) == 1
            }

        wait_for(b_in_flight, 30, "replica B fetching some of the products")
        os.killpg(b.process.pid, signal.SIGKILL)
        b.process.wait(10)
        with session_scope() as session:
            rows = session.exec(
                select(Product.id, Product.lease_owner, Product.lease_until).where(Product.id.in_(ids))
            ).all()
        held_by_b = {pid: until for pid, owner, until in rows if owner and not owned_by(a, owner)}
        assert held_by_b, "B held no lease when it was killed: nothing was tested"

        def all_checked() -> bool:
            with session_scope() as session:
                done = session.exec(
                    select(sa.func.count(Product.id)).where(
                        Product.id.in_(ids),
                        Product.lease_owner.is_(None),
                        Product.last_checked_at >= seeded_at,
                    )
                ).one()
            return done == len(ids)

        wait_for(all_checked, LEASE_SECONDS + 60, "replica A to check every product")
        wait_for(
            lambda: len(_emails_mentioning(replicas.resend, email, "3.56")) >= len(ids),
            30,
            "an alert e-mail for every product",
        )
        time.sleep(3)  # time for a duplicate, if there were going to be one

        with session_scope() as session:
            checked = {
                p.id: p.last_checked_at
                for p in session.exec(select(Product).where(Product.id.in_(ids))).all()
            }
            events = session.exec(select(AlertEvent).where(AlertEvent.product_id.in_(ids))).all()
        # A took B's products only after B's leases ran out, and fetched each once more;
        # every other product was fetched once in all.
        for pid, lease_until in held_by_b.items():
            assert checked[pid] >= lease_until, (pid, checked[pid], lease_until)
            assert slow_shop.request_count(path_of[pid]) == 2, pid
        for pid in set(ids) - set(held_by_b):
            assert slow_shop.request_count(path_of[pid]) == 1, pid
        # One alert per product, each e-mailed exactly once (a retried send carries the same
        # idempotency key, which Resend answers with the first e-mail).
        assert sorted(event.product_id for event in events) == sorted(ids)
        assert len(_emails_mentioning(replicas.resend, email, "3.56")) == len(ids)
        # Telegram is at-least-once: a replica killed between sending and recording repeats it.
        telegrams = len(_telegrams_mentioning(replicas.telegram, "3.56"))
        assert len(ids) <= telegrams <= len(ids) + len(held_by_b)
