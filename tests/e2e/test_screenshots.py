"""Screenshots of every page, desktop and phone, light and dark, for the README.

They are written to docs/screenshots/ on every run, so the README shows the product as
it looks today. Each shot also checks that the page rendered its main heading.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from benchmarks.seed import SeededUser, seed_watches
from benchmarks.shop import LocalShop
from tests.e2e.conftest import SCREENSHOT_DIR

PASSWORD = "screenshots please"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SCHEMES = ["light", "dark"]
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def showcase_user(app_server: object) -> SeededUser:
    return seed_watches(f"showcase-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, 12, display_name="Alex")


@pytest.fixture(params=[(v, s) for v in VIEWPORTS for s in SCHEMES], ids=lambda p: f"{p[0]}-{p[1]}")
def variant_page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[Page, str]]:
    viewport, scheme = request.param
    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme)
    yield context.new_page(), f"{viewport}-{scheme}"
    context.close()


def shot(page: Page, name: str, variant: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover highlight left where the last click was
    page.wait_for_load_state("networkidle")
    page.screenshot(path=SCREENSHOT_DIR / f"{name}-{variant}.jpeg", type="jpeg", quality=70, full_page=True)


def test_screenshots_of_every_page(
    variant_page: tuple[Page, str], base: str, showcase_user: SeededUser, shop: LocalShop
) -> None:
    page, variant = variant_page
    page.goto(base)
    expect(page.get_by_role("heading", name="Know when the price drops.")).to_be_visible(timeout=TIMEOUT)
    shot(page, "landing", variant)
    page.goto(f"{base}/signup")
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible(timeout=TIMEOUT)
    shot(page, "signup", variant)

    page.goto(f"{base}/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible(timeout=TIMEOUT)
    shot(page, "login", variant)
    page.get_by_label("Email").fill(showcase_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Hello, Alex")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_test_id("watch-card").first).to_be_visible(timeout=TIMEOUT)
    shot(page, "dashboard", variant)

    page.goto(f"{base}/products/{showcase_user.product_ids[0]}")
    expect(page.get_by_role("heading", name="Price history")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("path.recharts-line-curve")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("radio", name="1 year").click()  # a year shows the stock bands come and go
    expect(page.get_by_role("radio", name="1 year")).to_be_checked(timeout=TIMEOUT)
    page.wait_for_timeout(500)
    shot(page, "product", variant)

    url = shop.add_corpus_page(f"/shot-{uuid.uuid4().hex[:6]}", "zpeb_2b9b46483ad6335f")
    page.goto(f"{base}/add")
    page.get_by_label("Product link").fill(url)
    page.get_by_role("button", name="Read page").click()
    expect(page.get_by_test_id("found-title")).to_be_visible(timeout=TIMEOUT)
    shot(page, "add-product", variant)

    page.goto(f"{base}/settings")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible(timeout=TIMEOUT)
    shot(page, "settings", variant)
