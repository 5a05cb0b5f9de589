"""Tracking a product in the browser: add it, see it, watch the price drop, read the alert."""

from __future__ import annotations

import re
import time
import uuid
from decimal import Decimal

from playwright.sync_api import Browser, Page, expect

from benchmarks.shop import LocalShop
from tests.e2e.test_accounts_e2e import sign_up, unique_email
from tests.stubs import ResendStub
from tests.test_deal_check_flow import kettle_page

VIKING = "zpeb_2b9b46483ad6335f"  # nay.sk, 13.40 EUR, in stock
TIMEOUT = 30_000


def read_page(page: Page, base: str, url: str) -> None:
    page.goto(f"{base}/add")
    page.get_by_label("Product link").fill(url)
    page.get_by_role("button", name="Read page").click()


def test_price_watch_from_adding_to_the_alert(
    page: Page, base: str, shop: LocalShop, resend_stub: ResendStub
) -> None:
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    path = url.removeprefix(shop.base_url)
    email = unique_email("tracker")
    sign_up(page, base, email, "Tracy")

    read_page(page, base, url)
    expect(page.get_by_test_id("found-title")).to_contain_text("Viking 4v1", timeout=TIMEOUT)
    expect(page.get_by_test_id("found-price")).to_have_text("€13.40")
    expect(page.get_by_label("Target price")).to_have_value("12.06")
    page.get_by_label("Target price").fill("12.00")
    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    product_url = page.url
    expect(page.get_by_test_id("current-price")).to_have_text("€13.40", timeout=TIMEOUT)

    page.get_by_role("link", name="Dashboard").click()
    card = page.get_by_test_id("watch-card").filter(has_text="Viking 4v1")
    expect(card.get_by_test_id("price")).to_have_text("€13.40", timeout=TIMEOUT)
    expect(card).to_contain_text("Target: €12.00")
    expect(card).to_contain_text("In stock")

    shop.set_price(path, Decimal("11.50"))
    page.goto(product_url)
    page.get_by_role("button", name="Check now").click()
    expect(page.get_by_test_id("current-price")).to_have_text("€11.50", timeout=TIMEOUT)
    history = page.get_by_test_id("alert-history")
    expect(history).to_contain_text("Price alert", timeout=TIMEOUT)
    expect(history).to_contain_text("Watch started")
    # The chart now has two points, joined by a step line.
    line = page.get_by_test_id("price-chart").locator("path.recharts-curve.recharts-line-curve")
    expect(line).to_have_attribute("d", re.compile(r"^M[^M]*[HVL]"), timeout=TIMEOUT)

    # The alert reached the email channel (the Resend stub) exactly once, with the new price;
    # the confirmation waits CONFIRMATION_SUMMARY_SECONDS for more new watches, then arrives too.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        _emails_mentioning(resend_stub, email, "11.50") and _emails_mentioning(resend_stub, email, "13.40")
    ):
        time.sleep(0.5)
    assert len(_emails_mentioning(resend_stub, email, "11.50")) == 1
    assert len(_emails_mentioning(resend_stub, email, "13.40")) == 1  # the confirmation
    page.reload()  # the history is read when the page loads; both have been sent by now
    expect(page.get_by_test_id("alert-history")).to_contain_text("email: sent", timeout=TIMEOUT)

    # The shop starts refusing the checks: both pages say so, with the age of the last good price.
    shop.set_status(path, 403)
    page.get_by_role("button", name="Check now").click()
    status = page.get_by_test_id("reading-status")
    expect(status).to_contain_text("The shop is blocking our checks · last good price", timeout=TIMEOUT)
    expect(page.get_by_test_id("current-price")).to_have_text("€11.50")
    page.get_by_role("link", name="Dashboard").click()
    expect(card.get_by_test_id("reading-status")).to_contain_text(
        "The shop is blocking our checks", timeout=TIMEOUT
    )


def _emails_mentioning(resend_stub: ResendStub, address: str, price: str) -> list[dict]:
    return [m for m in resend_stub.emails if address in m["to"] and price in m["subject"]]


def test_stock_watch_on_an_item_in_stock_is_refused(page: Page, base: str, shop: LocalShop) -> None:
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    sign_up(page, base, unique_email("stocky"), "Stocky")
    read_page(page, base, url)
    expect(page.get_by_test_id("found-title")).to_contain_text("Viking 4v1", timeout=TIMEOUT)
    page.get_by_text("Back in stock", exact=True).click()
    page.get_by_role("button", name="Start watching").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "is in stock now, so there is nothing to wait for", timeout=TIMEOUT
    )
    expect(page).to_have_url(re.compile(r"/add/?$"))
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_text("No products yet")).to_be_visible(timeout=TIMEOUT)


def test_unreachable_page_gets_an_inline_message(page: Page, base: str) -> None:
    sign_up(page, base, unique_email("unreach"), "Una")
    read_page(page, base, "http://127.0.0.1:9/nothing-listens-here")
    expect(page.get_by_role("alert")).to_contain_text("could not open that page", timeout=TIMEOUT)


def test_another_user_cannot_open_the_product_page(browser: Browser, base: str, shop: LocalShop) -> None:
    owner = browser.new_context().new_page()
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    sign_up(owner, base, unique_email("owner"), "Owen")
    read_page(owner, base, url)
    expect(owner.get_by_test_id("found-title")).to_contain_text("Viking 4v1", timeout=TIMEOUT)
    owner.get_by_role("button", name="Start watching").click()
    expect(owner).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    product_url = owner.url

    intruder = browser.new_context().new_page()
    sign_up(intruder, base, unique_email("intruder"), "Ingrid")
    intruder.goto(product_url)
    expect(intruder.get_by_role("heading", name="Product not found")).to_be_visible(timeout=TIMEOUT)
    expect(intruder.get_by_text("Viking 4v1")).to_have_count(0)
    owner.context.close()
    intruder.context.close()


def test_a_discount_the_shop_claims_is_checked_on_the_product_page(
    page: Page, base: str, shop: LocalShop
) -> None:
    url = shop.add_page(f"/kettle-{uuid.uuid4().hex[:6]}", kettle_page("119.40", listed="199.00"))
    sign_up(page, base, unique_email("deals"), "Dee")
    read_page(page, base, url)
    expect(page.get_by_test_id("found-price")).to_have_text("€119.40", timeout=TIMEOUT)
    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    expect(page.get_by_test_id("deal-check")).to_have_text(
        "The shop says −40% from €199.00; CloudTrack has no earlier prices to check that against yet.",
        timeout=TIMEOUT,
    )
