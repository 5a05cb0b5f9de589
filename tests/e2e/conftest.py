"""Browser tests: the real app in production mode, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudtrack_app.bench.shop import LocalShop
from tests.apprunner import RunningApp, running_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    work = tmp_path_factory.mktemp("app")
    with running_app(f"sqlite:///{work / 'e2e.db'}", work, {"CLOUDTRACK_ALLOW_PRIVATE_URLS": "true"}) as app:
        yield app


@pytest.fixture
def base(app_server: RunningApp) -> str:
    return app_server.base_url


@pytest.fixture(scope="session")
def shop() -> Iterator[LocalShop]:
    """A loopback shop serving real saved product pages."""
    with LocalShop() as local_shop:
        yield local_shop
