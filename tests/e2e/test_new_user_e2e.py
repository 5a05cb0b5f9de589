"""What a new user tripped over (issue 15), in the browser: links typed without https://, the
already-watched link, the clickable card, the filter tabs on a phone, the chart's stock bands
and the settings' channel states."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from benchmarks.seed import seed_watches
from benchmarks.shop import LocalShop
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User
from cloudtrack_app.views.dashboard import dashboard_page
from tests.e2e.test_accounts_e2e import sign_up, unique_email
from tests.e2e.test_products_e2e import VIKING, read_page

TIMEOUT = 30_000
PHONE = {"width": 390, "height": 844}


def add_product(page: Page, base: str, url: str) -> None:
    read_page(page, base, url)
    expect(page.get_by_test_id("found-title")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)


def test_plain_words_and_links_without_https_get_the_apps_own_answer(page: Page, base: str) -> None:
    sign_up(page, base, unique_email("typist"), "Tia")
    read_page(page, base, "headphones")
    expect(page.get_by_role("alert")).to_contain_text("“headphones” is not a web address", timeout=TIMEOUT)

    read_page(page, base, "shop.example/item")
    box = page.get_by_label("Product link")
    assert box.evaluate("element => element.validity.valid")  # no browser bubble stopped the form
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("could not open that page", timeout=TIMEOUT)
    expect(alert).to_contain_text("shop.example")
    expect(alert).not_to_contain_text("not a web address")


def test_an_already_watched_product_links_to_its_watch(page: Page, base: str, shop: LocalShop) -> None:
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    sign_up(page, base, unique_email("twice"), "Tom")
    add_product(page, base, url)
    product_url = page.url

    read_page(page, base, url)
    expect(page.get_by_test_id("found-title")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Start watching").click()
    expect(page.get_by_role("alert")).to_contain_text("You are already watching", timeout=TIMEOUT)
    page.get_by_role("link", name="Open your watch of it").click()
    expect(page).to_have_url(product_url, timeout=TIMEOUT)


def test_a_click_anywhere_on_a_card_opens_the_product(page: Page, base: str, shop: LocalShop) -> None:
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    sign_up(page, base, unique_email("clicker"), "Cleo")
    add_product(page, base, url)
    product_url = page.url
    page.get_by_role("link", name="Dashboard").click()
    card = page.get_by_test_id("watch-card").filter(has_text="Viking 4v1")
    expect(card).to_be_visible(timeout=TIMEOUT)
    box = card.bounding_box()
    assert box is not None
    card.click(position={"x": box["width"] - 12, "y": box["height"] - 12})  # a corner, far from the title
    expect(page).to_have_url(product_url, timeout=TIMEOUT)
    page.go_back()
    expect(card.get_by_role("link")).to_have_count(1, timeout=TIMEOUT)


def test_every_filter_and_its_count_fit_a_phone(browser: Browser, base: str) -> None:
    user = seed_watches(f"phone-{uuid.uuid4().hex[:6]}@example.com", "phone password", 14, display_name="Pia")
    counts = dashboard_page(user.user_id).counts
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("phone password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("watch-card").first).to_be_visible(timeout=TIMEOUT)
    filters = page.get_by_role("group", name="Show")
    for label, key in (("All", "all"), ("Below target", "below_target"), ("In stock", "in_stock"),
                       ("Failing", "failing")):  # fmt: skip
        button = filters.get_by_role("button", name=f"{label} ({counts[key]})")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (label, box)
        text_width = button.evaluate("element => [element.scrollWidth, element.clientWidth]")
        assert text_width[0] <= text_width[1], (label, text_width)  # nothing cut off inside
    filters.get_by_role("button", name=f"In stock ({counts['in_stock']})").click()
    expect(filters.get_by_role("button", name=f"In stock ({counts['in_stock']})")).to_have_attribute(
        "aria-pressed", "true", timeout=TIMEOUT
    )
    context.close()


def test_the_chart_shades_out_of_stock_periods_only(page: Page, base: str, shop: LocalShop) -> None:
    sold_out = shop.add_corpus_page(f"/gone-{uuid.uuid4().hex[:6]}", VIKING)
    shop.set_availability(sold_out.removeprefix(shop.base_url), "OutOfStock")
    in_stock = shop.add_corpus_page(f"/here-{uuid.uuid4().hex[:6]}", VIKING)
    sign_up(page, base, unique_email("charts"), "Chad")

    read_page(page, base, sold_out)
    expect(page.get_by_test_id("found-title")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("radio", name="Back in stock")).to_be_checked()  # the default when sold out
    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    chart = page.get_by_test_id("price-chart")
    expect(chart.locator(".recharts-reference-area")).to_have_count(1, timeout=TIMEOUT)
    expect(page.get_by_test_id("stock-band-key")).to_be_visible()
    ticks = chart.locator(".recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value")
    expect(ticks.first).to_be_visible()
    labels = ticks.all_text_contents()
    assert any(":" in label for label in labels) and len(set(labels)) == len(labels), labels  # times of day

    read_page(page, base, in_stock)
    expect(page.get_by_test_id("found-title")).to_be_visible(timeout=TIMEOUT)
    page.get_by_label("Target price").fill("12.00")
    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    expect(chart).to_contain_text("Target €12.00", timeout=TIMEOUT)  # the target line, labelled
    expect(chart.locator(".recharts-reference-area")).to_have_count(0)
    expect(page.get_by_test_id("stock-band-key")).to_have_count(0)
    expect(chart).not_to_contain_text("Out of stock")
    expect(chart.locator(".recharts-reference-line line")).to_have_count(1)


def test_settings_show_each_channels_state_in_words(browser: Browser, base: str) -> None:
    context = browser.new_context(timezone_id="Europe/Vienna")
    page = context.new_page()
    email = unique_email("settings")
    sign_up(page, base, email, "Seth")
    page.get_by_role("link", name="Settings").click()
    email_block = page.get_by_test_id("channel-email")
    telegram_block = page.get_by_test_id("channel-telegram")
    expect(email_block).to_contain_text("On", timeout=TIMEOUT)
    expect(email_block).to_contain_text(f"Alerts go to {email}.")
    expect(telegram_block).to_contain_text("Off")
    expect(page.get_by_role("switch", name="E-mail alerts")).to_be_enabled()
    expect(page.get_by_role("combobox", name="Tone")).to_have_text("Friendly")
    expect(page.locator("#field-timezone")).to_have_text("Europe/Vienna", timeout=TIMEOUT)

    with session_scope() as db:
        db.execute(
            sa.update(User).where(User.email == email).values(email_channel_error="The address bounced.")
        )
    page.reload()
    expect(email_block).to_contain_text("Last delivery failed", timeout=TIMEOUT)
    expect(email_block).to_contain_text("The address bounced.")

    page.get_by_role("button", name="Send me a test alert").click()
    results = page.get_by_test_id("test-alert-result")
    expect(results.first).to_be_visible(timeout=TIMEOUT)
    texts = " ".join(results.all_inner_texts())
    assert f"E-mail: sent to {email}." in texts and "Telegram: off, so nothing was sent." in texts, texts
    assert "id " not in texts
    context.close()
