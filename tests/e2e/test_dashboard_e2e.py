"""The dashboard with many watches: pages of cards, filters with counts, sorting."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from benchmarks.seed import seed_watches
from cloudtrack_app.views.dashboard import PAGE_SIZE, dashboard_page

PASSWORD = "dashboard password"
TIMEOUT = 30_000


def test_pages_filters_and_sorting(page: Page, base: str) -> None:
    user = seed_watches(f"many-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, 30, display_name="Mona")
    expected = dashboard_page(user.user_id)
    in_stock = expected.counts["in_stock"]

    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    cards = page.get_by_test_id("watch-card")
    expect(cards).to_have_count(PAGE_SIZE, timeout=TIMEOUT)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()

    page.get_by_role("button", name="Next").click()
    expect(cards).to_have_count(30 - PAGE_SIZE, timeout=TIMEOUT)
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()

    page.get_by_role("button", name=f"In stock ({in_stock})").click()
    expect(cards).to_have_count(min(in_stock, PAGE_SIZE), timeout=TIMEOUT)
    for card in cards.all():
        expect(card).to_contain_text("In stock")

    page.get_by_role("button", name="Failing (0)").click()
    expect(page.get_by_text("No watch matches this filter.")).to_be_visible(timeout=TIMEOUT)

    page.get_by_role("button", name="All (30)").click()
    page.get_by_role("combobox", name="Sort by").click()
    page.get_by_role("option", name="Name").click()
    first_by_name = dashboard_page(user.user_id, sort="name").rows[0].title
    expect(cards.first).to_contain_text(first_by_name, timeout=TIMEOUT)
