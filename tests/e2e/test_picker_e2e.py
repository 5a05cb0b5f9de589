"""Picking the price in the browser: a page CloudTrack is unsure about, the person picks the
price, later checks follow that element, and a new page layout is said plainly."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from benchmarks.shop import LocalShop
from tests.e2e.test_accounts_e2e import sign_up, unique_email
from tests.e2e.test_products_e2e import TIMEOUT, read_page
from tests.picker_pages import LAMP_TITLE, lamp_page


def test_the_picked_price_is_followed_until_the_layout_changes(
    page: Page, base: str, shop: LocalShop
) -> None:
    path = f"/lamp-{uuid.uuid4().hex[:6]}"
    url = shop.add_page(path, lamp_page())
    sign_up(page, base, unique_email("picker"), "Pia")

    read_page(page, base, url)
    expect(page.get_by_test_id("found-title")).to_have_text(LAMP_TITLE, timeout=TIMEOUT)
    picker = page.get_by_test_id("price-picker")
    expect(picker.get_by_test_id("picker-prompt")).to_have_text(
        "We are not sure which price is the right one — pick it:"
    )
    choices = picker.get_by_test_id("price-choice")
    expect(choices.get_by_test_id("price-choice-amount")).to_have_text(["€39.00", "€35.00", "€49.00"])
    # The shop's "<b>today</b>" is shown as the words it is, never as markup.
    expect(choices.nth(1)).to_contain_text("Club members pay €35.00 <b>today</b>")
    expect(choices.nth(1).locator("b")).to_have_count(0)

    choices.nth(1).click()
    expect(choices.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("Target price")).to_have_value("31.50")
    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    expect(page.get_by_test_id("current-price")).to_have_text("€35.00", timeout=TIMEOUT)
    expect(page.get_by_test_id("following-pick")).to_have_text("Following the price you picked: €35.00")

    # The club price changes, the shown price does not: the watch follows the club price.
    shop.set_html(path, lamp_page(member="32.00"))
    page.get_by_role("button", name="Check now").click()
    expect(page.get_by_test_id("current-price")).to_have_text("€32.00", timeout=TIMEOUT)
    expect(page.get_by_test_id("following-pick")).to_have_text("Following the price you picked: €32.00")

    # The shop drops the club price from its page: the product page says so.
    shop.set_html(path, lamp_page(member=None))
    page.get_by_role("button", name="Check now").click()
    layout = page.get_by_test_id("layout-changed")
    expect(layout).to_contain_text("The page layout changed: pick the price again", timeout=TIMEOUT)
    expect(page.get_by_test_id("current-price")).to_have_text("€39.00")

    # Picking again, from a fresh read of the page, or with a selector typed by an expert.
    layout.get_by_role("button", name="Pick the price").click()
    picker = page.get_by_test_id("price-picker")
    expect(picker.get_by_test_id("price-choice-amount")).to_have_text(["€39.00", "€49.00"], timeout=TIMEOUT)
    picker.get_by_label("CSS selector (for experts)").fill("#member-price")
    picker.get_by_role("button", name="Try selector").click()
    expect(picker.get_by_test_id("selector-message")).to_have_text(
        "That selector finds nothing on the page.", timeout=TIMEOUT
    )
    picker.get_by_label("CSS selector (for experts)").fill(".buy span.price-now")
    picker.get_by_role("button", name="Try selector").click()
    expect(picker.get_by_test_id("selector-message")).to_have_text(
        "That selector finds €39.00 on the page.", timeout=TIMEOUT
    )
    picker.get_by_test_id("price-choice").first.click()
    expect(page.get_by_test_id("following-pick")).to_have_text(
        "Following the price you picked: €39.00", timeout=TIMEOUT
    )
    expect(page.get_by_test_id("layout-changed")).to_have_count(0)
