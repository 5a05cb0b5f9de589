"""Accounts in the browser: sign up, log in and out, lockout, and privacy between users."""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import link_mailed_to
from tests.stubs import ResendStub, TelegramStub

PASSWORD = "a long enough password"


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def sign_up(page: Page, base: str, email: str, name: str) -> None:
    page.goto(f"{base}/signup")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text(f"we sent a link to {email}", timeout=20_000)
    page.goto(link_mailed_to(email))
    expect(page.get_by_text(f"Confirm {email} to create your CloudTrack account.")).to_be_visible(
        timeout=20_000
    )
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name=f"Hello, {name}")).to_be_visible(timeout=20_000)


def log_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_landing_page_says_what_cloudtrack_does(page: Page, base: str) -> None:
    page.goto(base)
    expect(page.get_by_role("heading", name="Know when the price drops.")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("link", name="Sign up").first).to_be_visible()
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()


def test_sign_up_leads_to_the_dashboard_and_survives_reload(page: Page, base: str, browser: Browser) -> None:
    email = unique_email("signup")
    sign_up(page, base, email, "Signe")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    expect(nav.get_by_role("link", name="Settings")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text("No products yet")).to_be_visible()

    page.reload()
    expect(page.get_by_role("heading", name="Hello, Signe")).to_be_visible(timeout=20_000)

    stranger = browser.new_context().new_page()
    stranger.goto(f"{base}/settings")
    expect(stranger).to_have_url(re.compile(r"/login\?next=/settings"), timeout=20_000)
    stranger.context.close()


def test_sign_up_with_a_taken_address_answers_the_same_and_logs_nobody_in(
    page: Page, base: str, browser: Browser, resend_stub: ResendStub
) -> None:
    email = unique_email("taken")
    sign_up(page, base, email, "Tamara")

    stranger = browser.new_context().new_page()
    stranger.goto(f"{base}/signup")
    stranger.get_by_label("Display name").fill("Mallory")
    stranger.get_by_label("Email").fill(email)
    stranger.get_by_label("Password (at least 8 characters)").fill("another long password")
    stranger.get_by_role("button", name="Create account").click()
    expect(stranger.get_by_role("status")).to_contain_text(
        f"Check your inbox: we sent a link to {email} to finish signing up", timeout=20_000
    )
    assert not stranger.evaluate("() => window.localStorage.getItem('cloudtrack_session')")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        m["to"] == [email] and "Someone tried" in m["subject"] for m in resend_stub.emails
    ):
        time.sleep(0.2)
    notices = [m for m in resend_stub.emails if m["to"] == [email] and "Someone tried" in m["subject"]]
    assert len(notices) == 1 and "Mallory" not in notices[0]["text"]
    stranger.context.close()


def test_log_out_ends_the_session_and_protected_pages_redirect(page: Page, base: str) -> None:
    sign_up(page, base, unique_email("logout"), "Lou")
    token = page.evaluate("() => window.localStorage.getItem('cloudtrack_session')")
    assert token

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=20_000)
    page.goto(f"{base}/settings")
    expect(page).to_have_url(re.compile(r"/login\?next=/settings"), timeout=20_000)

    # The old token was ended on the server: putting it back does not log anyone in.
    page.evaluate("(t) => window.localStorage.setItem('cloudtrack_session', t)", token)
    page.goto(f"{base}/settings")
    expect(page).to_have_url(re.compile(r"/login\?next=/settings"), timeout=20_000)


def test_wrong_password_then_lockout(page: Page, base: str) -> None:
    email = unique_email("lock")
    sign_up(page, base, email, "Lockie")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"), timeout=20_000)

    log_in(page, base, email, "wrong password 1")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Wrong email or password.", timeout=20_000)
    for attempt in range(2, 6):
        page.get_by_label("Password").fill(f"wrong password {attempt}")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log in")).to_be_enabled(timeout=20_000)
    expect(alert).to_contain_text("Too many failed log-in attempts. Try again in 15 minutes.")

    # The sixth attempt, even with the right password, is refused with the lock message.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(alert).to_contain_text("Too many failed log-in attempts", timeout=20_000)
    expect(page).to_have_url(re.compile(r"/login"))


def test_second_user_never_sees_the_first_users_data(browser: Browser, base: str) -> None:
    first = browser.new_context().new_page()
    sign_up(first, base, unique_email("first"), "Firstina")
    first.goto(f"{base}/settings")
    expect(first.get_by_label("Display name")).to_have_value("Firstina", timeout=20_000)

    second = browser.new_context().new_page()
    sign_up(second, base, unique_email("second"), "Secondo")
    second.goto(f"{base}/settings")
    expect(second.get_by_label("Display name")).to_have_value("Secondo", timeout=20_000)
    expect(second.get_by_text("Firstina")).to_have_count(0)
    second.goto(base)
    expect(second.get_by_role("heading", name="Hello, Secondo")).to_be_visible(timeout=20_000)
    expect(second.get_by_text("Firstina")).to_have_count(0)
    first.context.close()
    second.context.close()


def test_telegram_is_linked_from_the_settings_page(
    page: Page, base: str, telegram_stub: TelegramStub
) -> None:
    sign_up(page, base, unique_email("tele"), "Teo")
    page.goto(f"{base}/settings")
    page.get_by_role("button", name="Link Telegram").click()
    link = page.get_by_role("link", name="Open Telegram to link")
    expect(link).to_have_attribute(
        "href", re.compile(r"^https://t\.me/CloudTrackTestBot\?start=[\w-]+$"), timeout=20_000
    )
    expect(page.get_by_role("img", name="QR code of the Telegram link")).to_be_visible()
    token = (link.get_attribute("href") or "").split("start=", 1)[1]

    chat_id = 4242000 + len(telegram_stub.messages)
    telegram_stub.push_message(f"/start {token}", chat_id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not telegram_stub.messages_to(chat_id):
        time.sleep(0.5)
    assert telegram_stub.messages_to(chat_id), "the bot did not confirm the link"

    page.get_by_role("button", name="I pressed Start — check again").click()
    expect(page.get_by_text("Alerts go to your Telegram chat.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Send me a test alert").click()
    expect(page.get_by_test_id("test-alert-result").filter(has_text="telegram")).to_contain_text(
        "sent", timeout=30_000
    )


def test_changing_the_address_takes_the_password_and_the_new_addresses_link(
    page: Page, base: str, resend_stub: ResendStub
) -> None:
    old, new = unique_email("mover"), unique_email("moved")
    sign_up(page, base, old, "Mo")
    page.goto(f"{base}/settings")
    expect(page.get_by_text("Verified", exact=True)).to_be_visible(timeout=20_000)

    page.get_by_label("New e-mail address").fill(new)
    page.get_by_label("Your password, to confirm").fill("not my password")
    page.get_by_role("button", name="Change address").click()
    expect(page.get_by_role("alert")).to_contain_text("The current password is not correct.", timeout=20_000)

    page.get_by_label("New e-mail address").fill(new)
    page.get_by_label("Your password, to confirm").fill(PASSWORD)
    page.get_by_role("button", name="Change address").click()
    expect(page.get_by_role("status").first).to_contain_text(f"We sent a link to {new}", timeout=20_000)
    expect(page.get_by_text(f"Waiting for you to follow the link sent to {new}.")).to_be_visible()

    page.goto(link_mailed_to(new))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text(f"Your account's address is now {new}.")).to_be_visible(timeout=20_000)
    page.goto(f"{base}/settings")
    expect(page.get_by_text(new, exact=True)).to_be_visible(timeout=20_000)
    assert any(m["to"] == [old] and "changed" in m["subject"] for m in resend_stub.emails)


def _change_password(page: Page, current: str, new: str) -> None:
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Repeat new password").fill(new)
    page.get_by_role("button", name="Change password").click()


def test_a_password_change_logs_out_other_sessions_and_guessing_it_is_throttled(
    browser: Browser, base: str
) -> None:
    email = unique_email("pw")
    laptop = browser.new_context().new_page()
    sign_up(laptop, base, email, "Paula")
    phone = browser.new_context().new_page()
    log_in(phone, base, email)
    expect(phone.get_by_role("heading", name="Hello, Paula")).to_be_visible(timeout=20_000)

    laptop.goto(f"{base}/settings")
    expect(laptop.get_by_text("Changing it logs out your other sessions.")).to_be_visible(timeout=20_000)
    _change_password(laptop, PASSWORD, "a newer long password")
    expect(laptop.get_by_text("Password changed.")).to_be_visible(timeout=20_000)
    phone.goto(f"{base}/settings")
    expect(phone).to_have_url(re.compile(r"/login\?next=/settings"), timeout=20_000)
    laptop.reload()
    expect(laptop.get_by_label("Display name")).to_have_value("Paula", timeout=20_000)

    for attempt in range(5):
        _change_password(laptop, f"wrong guess {attempt}", "yet another password")
    expect(laptop.get_by_text("Too many wrong passwords. Try again in 15 minutes.")).to_be_visible(
        timeout=20_000
    )
    laptop.context.close()
    phone.context.close()
