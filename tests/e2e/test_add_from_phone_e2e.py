"""Adding from a phone or a browser, and importing a list, in the real app and a real browser."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote, unquote

from playwright.sync_api import Page, expect

from benchmarks.shop import LocalShop
from tests.e2e.test_accounts_e2e import PASSWORD, sign_up, unique_email

VIKING = "zpeb_2b9b46483ad6335f"  # nay.sk, 13.40 EUR, in stock
TIMEOUT = 30_000


def test_a_shared_link_passes_through_log_in_to_the_filled_in_add_page(
    page: Page, base: str, shop: LocalShop
) -> None:
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    email = unique_email("sharer")
    sign_up(page, base, email, "Sharer")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=TIMEOUT)

    # What Android's share sheet sends to the manifest's share target: the link inside the text.
    text = f"Look at this Viking 4v1! {url}"
    page.goto(f"{base}/add?title={quote('Viking 4v1')}&text={quote(text)}&url=")
    expect(page).to_have_url(re.compile(r"/login\?next="), timeout=TIMEOUT)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/add/?\?title="), timeout=TIMEOUT)
    expect(page.get_by_label("Product link")).to_have_value(url, timeout=TIMEOUT)
    page.get_by_role("button", name="Read page").click()
    expect(page.get_by_test_id("found-title")).to_contain_text("Viking 4v1", timeout=TIMEOUT)


def test_the_bookmarklet_opens_the_add_page_for_the_shop_tab(page: Page, base: str, shop: LocalShop) -> None:
    url = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    sign_up(page, base, unique_email("marker"), "Marker")
    page.goto(f"{base}/settings")
    link = page.get_by_role("link", name="Track in CloudTrack")
    expect(link).to_be_visible(timeout=TIMEOUT)
    href = link.get_attribute("href") or ""
    assert href.startswith("javascript:") and "React has blocked" not in href

    page.goto(url)
    page.evaluate(unquote(href.removeprefix("javascript:")))  # what clicking the bookmark runs
    expect(page).to_have_url(re.compile(rf"/add/?\?url={re.escape(quote(url, safe=''))}$"), timeout=TIMEOUT)
    expect(page.get_by_label("Product link")).to_have_value(url, timeout=TIMEOUT)


def test_the_app_installs_and_shows_an_offline_page_without_the_server(page: Page, base: str) -> None:
    response = page.request.get(f"{base}/manifest.webmanifest")
    assert response.ok and response.json()["share_target"]["action"] == "/add"
    page.goto(f"{base}/login")
    scope = page.evaluate(
        """Promise.race([
            navigator.serviceWorker.ready.then((registration) => registration.scope),
            new Promise((resolve) => setTimeout(() => resolve("no service worker"), 20000)),
        ])"""
    )
    assert scope == f"{base}/"
    page.reload()  # now controlled by the worker
    page.context.set_offline(True)
    try:
        page.goto(f"{base}/settings")
        expect(page.get_by_role("heading", name="CloudTrack cannot be reached")).to_be_visible(
            timeout=TIMEOUT
        )
    finally:
        page.context.set_offline(False)
    page.goto(f"{base}/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=TIMEOUT)


def test_an_import_reports_each_line_and_carries_on_after_the_tab_closes(
    page: Page, base: str, shop: LocalShop
) -> None:
    good = shop.add_corpus_page(f"/viking-{uuid.uuid4().hex[:6]}", VIKING)
    sign_up(page, base, unique_email("mover"), "Mover")
    page.goto(f"{base}/import")
    page.get_by_label("Links").fill(f"{good}\nno link on this line\n")
    page.get_by_role("button", name="Import these links").click()
    expect(page.get_by_role("heading", name="Importing…")).to_be_visible(timeout=TIMEOUT)
    page.goto(f"{base}/settings")  # leave while it runs

    page.goto(f"{base}/import")
    summary = page.get_by_test_id("import-summary")
    expect(summary).to_have_text("2 of 2 lines done: 1 added, 0 already watched, 1 refused.", timeout=TIMEOUT)
    lines = page.get_by_test_id("import-line")
    expect(lines.nth(0)).to_contain_text("Added")
    expect(lines.nth(0)).to_contain_text("Now watching")
    expect(lines.nth(1)).to_contain_text("Refused")
    expect(lines.nth(1)).to_contain_text("No link on this line.")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    exported = download.value.path().read_text()
    assert exported.startswith("url,title,mode,target") and good in exported

    # The CSV file imports again: the one watch is already there.
    page.locator("#import-file input[type=file]").set_input_files(
        files=[{"name": "watches.csv", "mimeType": "text/csv", "buffer": exported.encode()}]
    )
    expect(summary).to_have_text("1 of 1 lines done: 0 added, 1 already watched, 0 refused.", timeout=TIMEOUT)
