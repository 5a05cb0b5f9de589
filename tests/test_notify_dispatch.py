"""Delivery: retried when the provider stumbles, stopped when it refuses, never sent again once
recorded as sent, and through Resend not even after a crash before the record."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from cloudtrack_app.models import utcnow
from cloudtrack_app.notify.dispatch import dispatch_pending
from tests.notify_fixtures import (
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


def one_alert(**user_prefs: object) -> tuple[int, int]:
    user = make_user(**user_prefs)
    product, watch = make_watch(user.id)
    return user.id, make_event(user.id, product, watch)  # type: ignore[arg-type]


async def test_server_errors_are_retried_with_backoff_and_succeed_later(stubs: Stubs) -> None:
    _, event_id = one_alert(ai_text=False, telegram_chat_id=12)
    stubs.resend.fail_next(500, message="Internal error")
    stubs.telegram.fail_next("sendMessage", 502, "Bad Gateway")
    now = utcnow()

    first = await dispatch_pending(now)
    assert (first.sent, first.retrying) == (0, 2)
    event, deliveries = load_event(event_id)
    assert event.status == "pending" and event.lease_owner is None
    for delivery in deliveries:
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert delivery.next_attempt_at == now + timedelta(seconds=30)
    assert deliveries[0].error and "500" in deliveries[0].error
    assert deliveries[1].error == "Telegram is unavailable: Bad Gateway"
    assert event.next_attempt_at == now + timedelta(seconds=30)

    assert (await dispatch_pending(now + timedelta(seconds=10))).claimed == 0  # not due yet

    later = await dispatch_pending(now + timedelta(seconds=31))
    assert later.sent == 2
    event, deliveries = load_event(event_id)
    assert event.status == "sent"
    assert [(d.status, d.attempts, d.error) for d in deliveries] == [("sent", 2, None), ("sent", 2, None)]
    assert len(stubs.resend.emails) == 1 and len(stubs.telegram.messages_to(12)) == 1


async def test_a_rate_limit_is_honoured_with_the_providers_retry_after(stubs: Stubs) -> None:
    _, event_id = one_alert(ai_text=False, telegram_chat_id=77)
    stubs.resend.fail_next(429, name="rate_limit_exceeded", message="Too many requests", retry_after=7)
    stubs.telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 12", retry_after=12)
    now = utcnow()

    report = await dispatch_pending(now)

    assert report.retrying == 2
    _, deliveries = load_event(event_id)
    retry_at = {d.channel: d.next_attempt_at - now for d in deliveries}
    assert retry_at == {"email": timedelta(seconds=7), "telegram": timedelta(seconds=12)}

    await dispatch_pending(now + timedelta(seconds=8))
    event, deliveries = load_event(event_id)
    assert [d.status for d in deliveries] == ["sent", "pending"] and event.status == "pending"
    await dispatch_pending(now + timedelta(seconds=13))
    event, deliveries = load_event(event_id)
    assert [d.status for d in deliveries] == ["sent", "sent"] and event.status == "sent"
    assert len(stubs.resend.emails) == 1 and len(stubs.telegram.messages_to(77)) == 1


async def test_a_permanent_failure_stops_retrying_and_shows_in_settings(stubs: Stubs) -> None:
    user_id, event_id = one_alert(ai_text=False, telegram_chat_id=55)
    stubs.resend.fail_next(422, name="validation_error", message="Invalid `to` field.")
    stubs.telegram.blocked_chats.add(55)
    now = utcnow()

    report = await dispatch_pending(now)

    assert (report.failed, report.retrying) == (2, 0)
    event, deliveries = load_event(event_id)
    assert event.status == "failed" and [d.status for d in deliveries] == ["failed", "failed"]
    user = load_user(user_id)
    assert user.email_channel_error == "Resend refused the e-mail: Invalid `to` field."
    assert user.telegram_channel_error and "blocked" in user.telegram_channel_error
    requests_before = stubs.resend.requests
    assert (await dispatch_pending(now + timedelta(days=1))).claimed == 0
    assert stubs.resend.requests == requests_before

    # Once the person fixes it, the next alert goes out and the warning clears.
    stubs.telegram.blocked_chats.clear()
    product, watch = make_watch(user_id, url="https://shop.example/kettle")
    make_event(user_id, product, watch)
    await dispatch_pending(now + timedelta(days=1))
    user = load_user(user_id)
    assert user.email_channel_error is None and user.telegram_channel_error is None


async def test_a_refused_api_key_is_reported_as_the_servers_problem(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, RESEND_API_KEY="re_wrong", TELEGRAM_BOT_TOKEN="999:wrong-token")
    user_id, _ = one_alert(ai_text=False, telegram_chat_id=8)

    report = await dispatch_pending()

    assert report.failed == 2
    user = load_user(user_id)
    assert user.email_channel_error == "The server's Resend API key was refused; ask the administrator."
    assert (
        user.telegram_channel_error == "The server's Telegram bot token was refused; ask the administrator."
    )


async def test_a_provider_that_keeps_failing_is_given_up_after_the_last_attempt(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, NOTIFY_MAX_ATTEMPTS="3")
    user_id, event_id = one_alert(ai_text=False)
    stubs.resend.fail_next(503, message="Unavailable", times=5)
    now = utcnow()
    for hours in range(4):
        await dispatch_pending(now + timedelta(hours=hours))
    event, [delivery] = load_event(event_id)
    assert (event.status, delivery.status, delivery.attempts) == ("failed", "failed", 3)
    assert delivery.error and delivery.error.startswith("Gave up after 3 attempts")
    assert load_user(user_id).email_channel_error == delivery.error


async def test_a_crash_between_claim_and_marking_sent_does_not_email_twice_through_resend(
    stubs: Stubs,
) -> None:
    _, event_id = one_alert(ai_text=False)
    stubs.resend.delay = 5  # Resend accepts the e-mail, then the worker dies before hearing back
    now = utcnow()
    worker = asyncio.create_task(dispatch_pending(now))
    for _ in range(500):
        if stubs.resend.emails:
            break
        await asyncio.sleep(0.02)
    assert stubs.resend.emails, "Resend never received the e-mail"
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    event, [delivery] = load_event(event_id)
    assert event.lease_owner is not None and delivery.status == "sending"

    stubs.resend.delay = 0
    assert (await dispatch_pending(now + timedelta(seconds=60))).claimed == 0  # the lease still holds
    report = await dispatch_pending(now + timedelta(minutes=5))  # the lease has expired

    assert report.sent == 1
    assert len(stubs.resend.emails) == 1  # the retry reused the idempotency key
    event, [delivery] = load_event(event_id)
    assert (event.status, delivery.status, delivery.attempts) == ("sent", "sent", 2)
    assert delivery.provider_id == stubs.resend.emails[0]["id"]


async def test_concurrent_dispatchers_send_each_alert_once(stubs: Stubs) -> None:
    user = make_user(ai_text=False, telegram_chat_id=99)
    for number in range(6):
        product, watch = make_watch(user.id, url=f"https://shop.example/item-{number}")
        make_event(user.id, product, watch)

    reports = await asyncio.gather(*(dispatch_pending(limit=4) for _ in range(3)))
    while (await dispatch_pending()).claimed:
        pass

    assert sum(r.claimed for r in reports) <= 6
    assert len(stubs.resend.emails) == 6 and len(stubs.telegram.messages_to(99)) == 6
    assert len({e["idempotency_key"] for e in stubs.resend.emails}) == 6


async def test_the_model_failing_never_loses_the_alert(stubs: Stubs) -> None:
    _, event_id = one_alert()
    stubs.openai.reply(ModelReply(content="not json at all"))

    await dispatch_pending()

    event, [delivery] = load_event(event_id)
    assert event.status == delivery.status == "sent" and not event.ai_used
    assert event.fallback_reason == "The model's answer was not the expected JSON."
    assert stubs.resend.emails[0]["subject"] == "Price drop: Acme Coffee Grinder now €79.90"


def test_a_test_alert_is_not_taken_by_the_background_dispatcher(db_url: str) -> None:
    """The settings page's test alert is born claimed, so its sender can report each channel."""
    from cloudtrack_app.auth.accounts import create_user
    from cloudtrack_app.models import utcnow
    from cloudtrack_app.notify.dispatch import create_test_event
    from cloudtrack_app.notify.outbox import claim_events

    user = create_user("tester@example.com", "a test password", "Tess")
    event_id = create_test_event(user.id, owner="settings-page", lease_seconds=120)
    assert claim_events(utcnow(), 10, "scheduler", 120) == []
    unclaimed = create_test_event(user.id)
    assert claim_events(utcnow(), 10, "scheduler", 120) == [unclaimed]
    assert event_id != unclaimed
