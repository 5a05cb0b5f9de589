"""Linking Telegram without typing ids: a one-time `t.me` link binds the chat that taps Start."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User, utcnow
from cloudtrack_app.notify.routes import routes
from cloudtrack_app.notify.telegram import (
    SECRET_HEADER,
    create_link_token,
    qr_svg_data_uri,
    run_telegram,
    run_telegram_polling,
    telegram_link_url,
    unlink_telegram,
    webhook_secret,
)
from cloudtrack_app.settings import get_settings
from tests.notify_fixtures import PUBLIC_URL, Stubs, configure, load_user, make_user
from tests.notify_fixtures import stubs_fixture as stubs_fixture
from tests.stubs import TelegramStub

CHAT = 777001


@pytest.fixture
async def polling(stubs: Stubs) -> AsyncIterator[TelegramStub]:
    """The backend's lifespan task, long-polling the stub's getUpdates."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_telegram_polling(stop, poll_timeout=1))
    yield stubs.telegram
    stop.set()
    await asyncio.wait_for(task, timeout=10)


async def replies_to(telegram: TelegramStub, chat_id: int, count: int) -> list[str]:
    for _ in range(500):
        messages = telegram.messages_to(chat_id)
        if len(messages) >= count:
            return [m["text"] for m in messages]
        await asyncio.sleep(0.02)
    raise AssertionError(f"the bot sent {len(telegram.messages_to(chat_id))} replies, expected {count}")


async def test_the_settings_link_and_qr_code_carry_a_one_time_token(stubs: Stubs) -> None:
    user = make_user()
    token = create_link_token(user.id)  # type: ignore[arg-type]

    stored = load_user(user.id)  # type: ignore[arg-type]
    assert stored.telegram_link_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (stored.telegram_link_token_hash or "")
    assert stored.telegram_link_expires_at and stored.telegram_link_expires_at > utcnow()
    link = await telegram_link_url(token)
    assert link == f"https://t.me/CloudTrackTestBot?start={token}"
    assert qr_svg_data_uri(link).startswith("data:image/svg+xml")
    await telegram_link_url(token)
    assert [method for method, _ in stubs.telegram.calls].count("getMe") == 1  # the username is cached


async def test_start_with_the_token_binds_the_chat_and_confirms(polling: TelegramStub) -> None:
    user = make_user(name="Alex <Admin>", telegram_alerts=False)
    token = create_link_token(user.id)  # type: ignore[arg-type]

    polling.push_message(f"/start {token}", CHAT)

    [reply] = await replies_to(polling, CHAT, 1)
    assert reply.startswith("Linked to CloudTrack as <b>Alex &lt;Admin&gt;</b>.")
    linked = load_user(user.id)  # type: ignore[arg-type]
    assert linked.telegram_chat_id == CHAT and linked.telegram_alerts
    assert linked.telegram_link_token_hash is None  # one time only

    polling.push_message(f"/start {token}", CHAT + 1)
    replies = await replies_to(polling, CHAT + 1, 1)
    assert "expired or was already used" in replies[0]
    assert load_user(user.id).telegram_chat_id == CHAT  # type: ignore[arg-type]


async def test_an_expired_token_binds_nothing(polling: TelegramStub) -> None:
    user = make_user()
    token = create_link_token(user.id)  # type: ignore[arg-type]
    with session_scope() as db:
        db.get(User, user.id).telegram_link_expires_at = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]

    polling.push_message(f"/start {token}", CHAT)

    [reply] = await replies_to(polling, CHAT, 1)
    assert "expired" in reply
    assert load_user(user.id).telegram_chat_id is None  # type: ignore[arg-type]


async def test_stop_unlinks_and_plain_start_explains(polling: TelegramStub) -> None:
    user = make_user(telegram_chat_id=CHAT)

    polling.push_message("/stop", CHAT)
    polling.push_message("/start", CHAT)

    stopped, explained = await replies_to(polling, CHAT, 2)
    assert stopped == "Unlinked. CloudTrack will not send alerts to this chat any more."
    assert "open Settings in CloudTrack" in explained
    assert load_user(user.id).telegram_chat_id is None  # type: ignore[arg-type]


def test_unlinking_from_settings_forgets_the_chat(stubs: Stubs) -> None:
    user = make_user(telegram_chat_id=CHAT, telegram_channel_error="blocked")
    unlink_telegram(user.id)  # type: ignore[arg-type]
    unlinked = load_user(user.id)  # type: ignore[arg-type]
    assert unlinked.telegram_chat_id is None and unlinked.telegram_channel_error is None


def test_webhook_mode_registers_the_webhook_and_binds_through_the_route(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, TELEGRAM_MODE="webhook")
    asyncio.run(run_telegram(asyncio.Event()))
    secret = webhook_secret(get_settings())
    assert stubs.telegram.webhook is not None
    assert stubs.telegram.webhook["url"] == f"{PUBLIC_URL}/telegram/webhook"
    assert stubs.telegram.webhook["secret_token"] == secret

    user = make_user()
    token = create_link_token(user.id)  # type: ignore[arg-type]
    update_id = stubs.telegram.push_message(f"/start {token}", CHAT)
    [update] = [u for u in stubs.telegram.updates if u["update_id"] == update_id]
    client = TestClient(Starlette(routes=routes))

    refused = client.post("/telegram/webhook", content=json.dumps(update), headers={SECRET_HEADER: "wrong"})
    assert refused.status_code == 403
    assert load_user(user.id).telegram_chat_id is None  # type: ignore[arg-type]

    accepted = client.post("/telegram/webhook", content=json.dumps(update), headers={SECRET_HEADER: secret})
    assert accepted.status_code == 200
    assert load_user(user.id).telegram_chat_id == CHAT  # type: ignore[arg-type]
    [reply] = stubs.telegram.messages_to(CHAT)
    assert reply["text"].startswith("Linked to CloudTrack")


def test_the_webhook_route_is_closed_in_polling_mode(stubs: Stubs) -> None:
    secret = webhook_secret(get_settings())
    client = TestClient(Starlette(routes=routes))
    response = client.post("/telegram/webhook", content="{}", headers={SECRET_HEADER: secret})
    assert response.status_code == 404
