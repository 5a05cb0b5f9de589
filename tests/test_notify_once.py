"""A dispatcher killed right after a provider accepted an alert, before writing it down.

The send and its record are one database write apart. When the process dies in that window,
the next dispatcher sends again: e-mail reaches the person once (the same idempotency key,
which Resend answers with the first e-mail), Telegram twice (its Bot API has no such key).
That is the documented guarantee: e-mail exactly-once, Telegram at-least-once in the window.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from cloudtrack_app.db import get_engine
from cloudtrack_app.models import utcnow
from cloudtrack_app.notify.dispatch import dispatch_pending
from tests.engine_fixtures import cli_command, cli_env
from tests.notify_fixtures import Stubs, load_event, make_event, make_user, make_watch
from tests.notify_fixtures import stubs_fixture as stubs_fixture

CHAT_ID = 4242
WAIT_S = 60


def alert_for(channel: str) -> int:
    """An alert to a person who gets alerts on `channel` only, in the template's words."""
    if channel == "email":
        user = make_user(ai_text=False)
    else:
        user = make_user(ai_text=False, email_alerts=False, telegram_chat_id=CHAT_ID)
    assert user.id is not None
    product, watch = make_watch(user.id)
    return make_event(user.id, product, watch)


def received(stubs: Stubs, channel: str) -> list[dict]:
    return list(stubs.resend.emails) if channel == "email" else stubs.telegram.messages_to(CHAT_ID)


def hold_answers(stubs: Stubs, seconds: float) -> None:
    """The provider records each message at once, then answers only after `seconds`."""
    stubs.resend.delay = seconds
    stubs.telegram.send_delay = seconds


@pytest.mark.parametrize("channel", ["email", "telegram"])
async def test_a_dispatcher_killed_after_the_send_and_before_its_record(stubs: Stubs, channel: str) -> None:
    event_id = alert_for(channel)
    hold_answers(stubs, WAIT_S)
    dispatcher = subprocess.Popen(
        cli_command("notify", "dispatch"),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not received(stubs, channel) and time.monotonic() < deadline and dispatcher.poll() is None:
            await asyncio.sleep(0.05)
        assert len(received(stubs, channel)) == 1, "the provider never received the alert"
    finally:
        dispatcher.send_signal(signal.SIGKILL)
        dispatcher.wait()
    event, [delivery] = load_event(event_id)
    assert delivery.status == "sending" and delivery.attempts == 1  # sent, never recorded

    hold_answers(stubs, 0)
    report = await dispatch_pending(utcnow() + timedelta(minutes=5))  # the killed one's lease has expired

    assert report.sent == 1
    event, [delivery] = load_event(event_id)
    assert (event.status, delivery.status, delivery.attempts) == ("sent", "sent", 2)
    messages = received(stubs, channel)
    if channel == "email":
        assert len(messages) == 1  # sent again with the same key; Resend answered with the first
        assert stubs.resend.requests == 2
        assert delivery.provider_id == messages[0]["id"]
    else:
        assert len(messages) == 2  # no idempotency key in the Bot API: the person gets it twice
        assert messages[0]["text"] == messages[1]["text"]


@pytest.mark.parametrize("channel", ["email", "telegram"])
async def test_what_a_provider_accepted_is_written_down_by_the_very_next_statement(
    stubs: Stubs, channel: str
) -> None:
    event_id = alert_for(channel)
    statements: list[tuple[str, object]] = []

    def log_statement(_conn, _cursor, statement, parameters, _context, _many) -> None:
        statements.append((" ".join(statement.split()), parameters))

    engine = get_engine()
    sa.event.listen(engine, "before_cursor_execute", log_statement)
    hold_answers(stubs, 0.5)  # long enough to see where the send falls among the statements
    try:
        dispatch = asyncio.create_task(dispatch_pending())
        while not received(stubs, channel) and not dispatch.done():
            await asyncio.sleep(0.005)
        sent_after = len(statements)
        await dispatch
    finally:
        sa.event.remove(engine, "before_cursor_execute", log_statement)

    statement, parameters = statements[sent_after]
    assert statement.startswith("UPDATE alert_deliveries SET status=")
    assert "WHERE alert_deliveries.id = " in statement and "alert_deliveries.status = " in statement
    assert "sent" in str(parameters)
    _, [delivery] = load_event(event_id)
    assert delivery.status == "sent" and len(received(stubs, channel)) == 1
