"""Browser tests: the real app in production mode, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.apprunner import RunningApp, running_app
from benchmarks.shop import LocalShop
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.fetch import BROWSER_ARGS
from tests.stubs import RESEND_TEST_KEY, TELEGRAM_TEST_TOKEN, ResendStub, TelegramStub, WebhookStub

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": CHROMIUM,
        "args": list(BROWSER_ARGS),
    }


OWN_APP = "own_app"
_own_app_started: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{OWN_APP}: the test starts an app of its own; run after every test of the shared app",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start their own app go last: starting one rebuilds `.web` in the project,
    under the shared app (`app_server`), which then loses its websocket for good."""
    items.sort(key=lambda item: item.get_closest_marker(OWN_APP) is not None)


@pytest.fixture(autouse=True)
def _shared_app_outlives_no_own_app(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker(OWN_APP) is not None:
        _own_app_started.append(request.node.nodeid)
    elif "app_server" in request.fixturenames and _own_app_started:
        pytest.fail(f"the shared app's build was replaced by the app of {_own_app_started[0]}")


_MAILBOX: list[ResendStub] = []


@pytest.fixture(scope="session")
def resend_stub() -> Iterator[ResendStub]:
    with ResendStub() as stub:
        _MAILBOX.append(stub)
        yield stub
    _MAILBOX.remove(stub)


def link_mailed_to(address: str, timeout: float = 20.0) -> str:
    """The newest `/verify` link the app mailed to `address` (through the Resend stub)."""
    (stub,) = _MAILBOX
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in reversed(stub.emails):
            found = re.search(r"https?://\S+/verify\?token=[\w-]+", mail["text"])
            if mail["to"] == [address] and found:
                return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no verification link was mailed to {address}")


@pytest.fixture(scope="session")
def telegram_stub() -> Iterator[TelegramStub]:
    with TelegramStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def webhook_stub() -> Iterator[WebhookStub]:
    """An Apprise target (JSON webhook or ntfy) on loopback, which the app is allowed to reach."""
    with WebhookStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def app_server(
    tmp_path_factory: pytest.TempPathFactory,
    resend_stub: ResendStub,
    telegram_stub: TelegramStub,
    webhook_stub: WebhookStub,
) -> Iterator[RunningApp]:
    work = tmp_path_factory.mktemp("app")
    url = f"sqlite:///{work / 'e2e.db'}"
    env = {
        "CLOUDTRACK_ALLOW_PRIVATE_URLS": "true",
        "SCHEDULER_ENABLED": "true",
        "NOTIFY_DISPATCH_SECONDS": "1",
        "RESEND_API_KEY": RESEND_TEST_KEY,
        "RESEND_API_URL": resend_stub.url,
        "EMAIL_FROM": "CloudTrack <alerts@cloudtrack.test>",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TEST_TOKEN,
        "TELEGRAM_API_URL": telegram_stub.url,
        "NOTIFY_ALLOW_PRIVATE_HOSTS": "127.0.0.1/32",
        # Every browser test signs up from 127.0.0.1.
        "SIGNUP_LIMIT_PER_HOUR": "1000",
    }
    with running_app(url, work, env) as app:
        # The tests read and seed the app's own database.
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        yield app


@pytest.fixture
def base(app_server: RunningApp) -> str:
    return app_server.base_url


@pytest.fixture(scope="session")
def shop() -> Iterator[LocalShop]:
    """A loopback shop serving real saved product pages."""
    with LocalShop() as local_shop:
        yield local_shop
