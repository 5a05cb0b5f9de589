"""Each alert reaches every channel the person enabled, in the exact form they receive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Watch, utcnow
from cloudtrack_app.notify.channel_status import channel_status
from cloudtrack_app.notify.dispatch import dispatch_pending
from cloudtrack_app.notify.links import make_unsubscribe_token, read_unsubscribe_token
from cloudtrack_app.notify.routes import routes
from tests.notify_fixtures import (
    PUBLIC_URL,
    Stubs,
    configure,
    load_event,
    load_user,
    make_event,
    make_user,
    make_watch,
)
from tests.notify_fixtures import stubs_fixture as stubs_fixture
from tests.stubs import ModelReply

# What the model writes, and what CloudTrack sends once it has filled in the facts.
AI_WORDING = (
    "{product} now {price}",
    "Hi {name}! The {product} at {shop} dropped to {price} (was {previous_price}), under your {target} target.",
)
AI_SUBJECT = "Acme Coffee Grinder now €79.90"
AI_BODY = "Hi Alex! The Acme Coffee Grinder at Example Shop dropped to €79.90 (was €99.00), under your €80.00 target."


def expected_text(body: str, product_id: int, unsubscribe: str) -> str:
    return (
        f"{body}\n\n"
        "Product: Acme Coffee Grinder\n"
        "Shop: Example Shop\n"
        "New price: €79.90\n"
        "Previous price: €99.00\n"
        "Your target: €80.00\n"
        "Lowest recorded: €75.00\n\n"
        f"View in CloudTrack: {PUBLIC_URL}/products/{product_id}\n"
        "Open at Example Shop: https://shop.example/grinder\n\n"
        f"Turn off alerts for this product: {unsubscribe}\n"
    )


async def test_an_alert_produces_the_exact_email_and_telegram_message(stubs: Stubs) -> None:
    user = make_user(telegram_chat_id=4242)
    product, watch = make_watch(user.id)
    event_id = make_event(user.id, product, watch)
    stubs.openai.reply(ModelReply.json(*AI_WORDING))

    report = await dispatch_pending()

    assert (report.claimed, report.sent, report.failed) == (1, 2, 0)
    [email] = stubs.resend.emails
    unsubscribe = email["headers"]["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith(f"{PUBLIC_URL}/alerts/off?token=")
    claim = read_unsubscribe_token(unsubscribe.split("token=", 1)[1])
    assert (claim.watch_id, claim.user_id) == (watch.id, user.id)
    assert email["from"] == "CloudTrack <alerts@cloudtrack.example>"
    assert email["to"] == ["alex@example.com"]
    assert email["subject"] == AI_SUBJECT
    assert email["text"] == expected_text(AI_BODY, product.id, unsubscribe)
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = email["html"]
    # The product's image as CloudTrack serves it, never the shop's own address.
    assert f'<img src="{PUBLIC_URL}/img/product/{product.id}/' in html
    assert "<strong>€79.90</strong>" in html and "<strong>€99.00</strong>" in html
    assert f'href="{PUBLIC_URL}/products/{product.id}"' in html
    assert 'href="https://shop.example/grinder"' in html
    assert f'href="{unsubscribe}"' in html

    [message] = stubs.telegram.messages
    assert message["chat_id"] == 4242
    assert message["parse_mode"] == "HTML"
    assert message["text"] == (
        f"<b>{AI_SUBJECT}</b>\n\n{AI_BODY}\n\n"
        "Shop: <b>Example Shop</b>\n"
        "New price: <b>€79.90</b>\n"
        "Previous price: <b>€99.00</b>\n"
        "Your target: <b>€80.00</b>\n"
        "Lowest recorded: <b>€75.00</b>"
    )
    assert message["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "View in CloudTrack", "url": f"{PUBLIC_URL}/products/{product.id}"}],
            [{"text": "Open at Example Shop", "url": "https://shop.example/grinder"}],
        ]
    }

    event, deliveries = load_event(event_id)
    assert (event.status, event.subject, event.body, event.ai_used) == ("sent", AI_SUBJECT, AI_BODY, True)
    by_channel = {d.channel: d for d in deliveries}
    assert by_channel["email"].provider_id == email["id"]
    assert by_channel["email"].idempotency_key == email["idempotency_key"]
    assert by_channel["email"].body == email["text"]
    assert by_channel["telegram"].provider_id == f"4242:{message['message_id']}"
    assert by_channel["telegram"].body == message["text"]
    assert all(d.status == "sent" and d.attempts == 1 and d.sent_at for d in deliveries)


async def test_alerts_go_to_the_alert_address_and_only_to_enabled_channels(stubs: Stubs) -> None:
    user = make_user(
        alert_email="deals@example.org",
        verified_alert_email="deals@example.org",
        telegram_chat_id=4242,
        telegram_alerts=False,
    )
    product, watch = make_watch(user.id)
    event_id = make_event(user.id, product, watch)

    await dispatch_pending()

    assert [e["to"] for e in stubs.resend.emails] == [["deals@example.org"]]
    assert stubs.telegram.messages == []
    _, deliveries = load_event(event_id)
    assert [d.channel for d in deliveries] == ["email"]


async def test_without_any_channel_the_alert_is_recorded_for_the_app(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, RESEND_API_KEY="", TELEGRAM_BOT_TOKEN="", OPENAI_API_KEY="", OPENAI_BASE_URL="")
    user = make_user(telegram_chat_id=4242)
    product, watch = make_watch(user.id)
    event_id = make_event(user.id, product, watch)

    report = await dispatch_pending()

    assert report.outcomes[event_id][0].status == "recorded"
    event, deliveries = load_event(event_id)
    assert event.status == "skipped" and deliveries == []
    assert event.subject == "Price drop: Acme Coffee Grinder now €79.90"
    assert event.body and "dropped to €79.90 (was €99.00)" in event.body
    assert event.fallback_reason == "AI text is not configured on this server."
    assert stubs.resend.requests == 0 and stubs.telegram.messages == []


async def test_a_watch_turned_off_before_sending_sends_nothing(stubs: Stubs) -> None:
    user = make_user()
    product, watch = make_watch(user.id)
    event_id = make_event(user.id, product, watch)
    with session_scope() as db:
        db.get(Watch, watch.id).active = False  # type: ignore[union-attr]

    await dispatch_pending()

    event, deliveries = load_event(event_id)
    assert event.status == "skipped" and deliveries == []
    assert stubs.resend.emails == [] and stubs.openai.requests == []


async def test_the_confirmation_of_a_new_watch_goes_the_same_way(stubs: Stubs) -> None:
    user = make_user(ai_text=False)
    product, watch = make_watch(user.id)
    facts = {
        "title": product.title,
        "shop": "Example Shop",
        "currency": "EUR",
        "price": "85.00",
        "target_price": "80.00",
        "mode": "price",
        "url": "https://shop.example/grinder",
    }
    make_event(user.id, product, watch, kind="confirmation", facts=facts)

    await dispatch_pending()

    [email] = stubs.resend.emails
    assert email["subject"] == "Now watching Acme Coffee Grinder at €85.00"
    assert "I'll tell you when it drops to €80.00 or below." in email["text"]


async def test_telegram_gets_no_button_it_would_refuse(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, PUBLIC_URL="http://localhost:3000")
    user = make_user(ai_text=False, telegram_chat_id=5)
    product, watch = make_watch(user.id)
    make_event(user.id, product, watch)

    await dispatch_pending()

    [message] = stubs.telegram.messages_to(5)
    assert message["reply_markup"] == {
        "inline_keyboard": [[{"text": "Open at Example Shop", "url": "https://shop.example/grinder"}]]
    }
    assert f"http://localhost:3000/products/{product.id}" in stubs.resend.emails[0]["text"]


def test_settings_show_each_channels_state(stubs: Stubs) -> None:
    user = make_user(alert_email="deals@example.org", telegram_channel_error="The bot was blocked.")
    statuses = {s.name: s for s in channel_status(user.id)}
    assert statuses["email"].configured and statuses["email"].enabled
    assert statuses["email"].recipient == "deals@example.org" and statuses["email"].error is None
    assert statuses["telegram"].configured and not statuses["telegram"].enabled  # not linked yet
    assert statuses["telegram"].error == "The bot was blocked."


def test_the_alerts_off_link_asks_then_turns_the_watch_off(stubs: Stubs) -> None:
    user = make_user()
    _, watch = make_watch(user.id, title="Grinder <Pro>")
    token = make_unsubscribe_token(watch.id, user.id)  # type: ignore[arg-type]
    client = TestClient(Starlette(routes=routes))

    page = client.get(f"/alerts/off?token={token}")
    assert page.status_code == 200 and "Turn off alerts?" in page.text
    assert "Grinder &lt;Pro&gt;" in page.text and "<Pro>" not in page.text
    with session_scope() as db:
        assert db.get(Watch, watch.id).active  # type: ignore[union-attr]

    done = client.post(f"/alerts/off?token={token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Alerts are off" in done.text
    with session_scope() as db:
        assert not db.get(Watch, watch.id).active  # type: ignore[union-attr]
    assert load_user(user.id).email_alerts  # only this product's alerts stop


def test_a_forged_or_expired_alerts_off_link_changes_nothing(stubs: Stubs) -> None:
    user = make_user()
    other = make_user("sam@example.com", "Sam")
    _, watch = make_watch(user.id)
    client = TestClient(Starlette(routes=routes))
    token = make_unsubscribe_token(watch.id, user.id)  # type: ignore[arg-type]
    payload, signature = token.split(".")
    forged = make_unsubscribe_token(watch.id, other.id).split(".")[0] + "." + signature  # type: ignore[arg-type]
    expired = make_unsubscribe_token(watch.id, user.id, now=utcnow() - timedelta(days=365))  # type: ignore[arg-type]
    for bad in (forged, expired, "nonsense", payload + ".AAAA"):
        response = client.post(f"/alerts/off?token={bad}")
        assert response.status_code == 400
    assert "expired" in client.get(f"/alerts/off?token={expired}").text
    with session_scope() as db:
        assert db.get(Watch, watch.id).active  # type: ignore[union-attr]
