"""Apprise in the browser (issue 12 §1): add a channel on the settings page, send it a test alert."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.e2e.test_accounts_e2e import sign_up, unique_email
from tests.stubs import WebhookStub

TIMEOUT = 30_000


def test_an_apprise_channel_is_added_and_receives_a_test_alert(
    page: Page, base: str, webhook_stub: WebhookStub
) -> None:
    sign_up(page, base, unique_email("apprise"), "Ada")
    page.get_by_role("link", name="Settings").click()
    port = webhook_stub.server.server_address[1]
    block = page.get_by_test_id("apprise-channels")

    block.get_by_label("Name").fill("Phone")
    block.get_by_label("Apprise URL").fill(f"ntfy://127.0.0.1:{port}/ada-secret-topic")
    block.get_by_role("button", name="Add Apprise channel").click()

    shown = f"ntfy://127.0.0.1:{port}/•••"
    expect(block).to_contain_text(f"Alerts go to {shown}.", timeout=TIMEOUT)
    expect(block).to_contain_text("Nothing sent here yet.")
    expect(block).not_to_contain_text("ada-secret-topic")
    before = len(webhook_stub.received)
    block.get_by_role("button", name="Send test").click()

    expect(page.get_by_test_id("test-alert-result")).to_have_text(f"Phone: sent to {shown}.", timeout=TIMEOUT)
    expect(block).to_contain_text("The last alert was delivered.")
    [(method, _, _, body)] = webhook_stub.received[before:]
    pushed = json.loads(body)
    assert method == "POST" and pushed["topic"] == "ada-secret-topic"
    assert "Test alert" in pushed.get("title", "") + pushed["message"]
