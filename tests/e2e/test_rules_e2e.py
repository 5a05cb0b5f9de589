"""Rules in the browser: defaults on the settings page fill the add form; the start message can be off."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from benchmarks.shop import LocalShop
from tests.e2e.test_accounts_e2e import sign_up, unique_email
from tests.e2e.test_products_e2e import VIKING, read_page

TIMEOUT = 30_000


def test_default_rules_and_the_start_message_switch(page: Page, base: str, shop: LocalShop) -> None:
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    email = unique_email("ruler")
    sign_up(page, base, email, "Rula")

    page.goto(f"{base}/settings")
    switch = page.get_by_role("switch", name="Tell me when a watch starts")
    expect(switch).to_be_checked(timeout=TIMEOUT)
    switch.click()
    page.get_by_label("A drop of at least (%), instead of a target").fill("10")
    page.get_by_role("button", name="Save new-watch settings").click()
    expect(page.get_by_role("status").filter(has_text="New-watch settings saved.")).to_be_visible(
        timeout=TIMEOUT
    )

    read_page(page, base, url)
    expect(page.get_by_test_id("found-title")).to_contain_text("Viking 4v1", timeout=TIMEOUT)
    expect(page.get_by_label("Or a drop of at least (%)")).to_have_value("10")
    expect(page.get_by_label("Target price")).to_be_disabled()
    page.get_by_role("checkbox", name="Also tell me when the price goes up").click()
    page.get_by_role("button", name="Start watching").click()
    expect(page).to_have_url(re.compile(r"/products/\d+$"), timeout=TIMEOUT)
    expect(page.get_by_text("you will hear when it drops by 10% or more", exact=False)).to_be_visible(
        timeout=TIMEOUT
    )
    expect(page.get_by_label("Or a drop of at least (%)")).to_have_value("10", timeout=TIMEOUT)

    # The switch is off: no "now watching" message was even queued, so none is in the history.
    expect(page.get_by_text("Watch started")).to_have_count(0)
