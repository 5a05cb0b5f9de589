"""Apprise as a channel (issue 12 §1): each person's URLs, behind the real Apprise library.

The targets are local HTTP stubs on loopback: a JSON webhook and an ntfy-compatible endpoint.
Loopback is private, so each test says what NOTIFY_ALLOW_PRIVATE_HOSTS opens; a target that
is not opened must receive nothing, whether it is named directly, reached by a redirect or
became private after it was added.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner

from cloudtrack_app.auth import accounts
from cloudtrack_app.cli import main
from cloudtrack_app.log_redaction import redact
from cloudtrack_app.models import utcnow
from cloudtrack_app.notify.apprise_channel import (
    AppriseTargetError,
    add_target,
    list_targets,
    masked_url,
    remove_target,
)
from cloudtrack_app.notify.channel_status import channel_status
from cloudtrack_app.notify.dispatch import dispatch_pending, send_test_alert
from cloudtrack_app.settings import get_settings
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.views.channels import ChannelState
from tests.notify_fixtures import PUBLIC_URL, configure, load_event, make_event, make_user, make_watch
from tests.state_fixtures import run_handler
from tests.state_fixtures import state_for as reflex_state
from tests.stubs import WebhookStub


def allow_private(monkeypatch: pytest.MonkeyPatch, hosts: str) -> None:
    configure(
        monkeypatch,
        NOTIFY_ALLOW_PRIVATE_HOSTS=hosts,
        RESEND_API_KEY="",
        TELEGRAM_BOT_TOKEN="",
        OPENAI_API_KEY="",
        OPENAI_BASE_URL="",
        PUBLIC_URL=PUBLIC_URL,
        SECRET_KEY="test-secret-key-for-apprise",
        NOTIFY_SEND_TIMEOUT="5",
    )


@pytest.fixture
def webhook(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookStub]:
    with WebhookStub() as stub:
        allow_private(monkeypatch, "127.0.0.1/32")
        yield stub  # type: ignore[misc]
    get_settings.cache_clear()


def port_of(stub: WebhookStub) -> int:
    return int(stub.server.server_address[1])


def one_alert(user_id: int) -> int:
    product, watch = make_watch(user_id)
    return make_event(user_id, product, watch)  # type: ignore[arg-type]


async def test_an_alert_reaches_a_json_webhook_and_an_ntfy_endpoint_through_the_outbox(
    webhook: WebhookStub,
) -> None:
    with WebhookStub() as ntfy:
        user = make_user(ai_text=False, email_alerts=False)
        add_target(user.id, f"json://127.0.0.1:{port_of(webhook)}/hooks/prices", "Home webhook")  # type: ignore[arg-type]
        add_target(user.id, f"ntfy://127.0.0.1:{port_of(ntfy)}/prices", "Phone")  # type: ignore[arg-type]
        event_id = one_alert(user.id)  # type: ignore[arg-type]

        report = await dispatch_pending()

        assert report.sent == 2
        [(method, path, _, body)] = webhook.received
        posted = json.loads(body)
        assert (method, path) == ("POST", "/hooks/prices")
        assert "Acme Coffee Grinder" in posted["title"] + posted["message"]
        [(method, _, _, body)] = ntfy.received
        pushed = json.loads(body)
        assert method == "POST" and pushed["topic"] == "prices"
        assert "Acme Coffee Grinder" in pushed["message"] + pushed.get("title", "")
    event, deliveries = load_event(event_id)
    assert event.status == "sent" and [d.status for d in deliveries] == ["sent", "sent"]
    assert all(d.channel.startswith("apprise:") for d in deliveries)
    assert [(t.name, t.last_status) for t in list_targets(user.id)] == [  # type: ignore[arg-type]
        ("Home webhook", "sent"),
        ("Phone", "sent"),
    ]


async def test_a_loopback_target_is_refused_unless_the_administrator_allows_it(
    webhook: WebhookStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user()
    url = f"json://127.0.0.1:{port_of(webhook)}/hook"
    allow_private(monkeypatch, "")

    with pytest.raises(AppriseTargetError, match="points into a private network"):
        add_target(user.id, url, "Sneaky")  # type: ignore[arg-type]
    with pytest.raises(AppriseTargetError, match="private network"):
        add_target(user.id, f"json://localhost:{port_of(webhook)}/hook", "Sneaky")  # type: ignore[arg-type]
    allow_private(monkeypatch, "10.0.0.0/8, ntfy.lan")
    with pytest.raises(AppriseTargetError, match="private network"):
        add_target(user.id, url, "Sneaky")  # type: ignore[arg-type]
    assert list_targets(user.id) == [] and webhook.received == []  # type: ignore[arg-type]

    allow_private(monkeypatch, "127.0.0.0/8")
    assert add_target(user.id, url, "Allowed").name == "Allowed"  # type: ignore[arg-type]


async def test_a_target_no_longer_allowed_receives_nothing_and_the_failure_is_shown(
    webhook: WebhookStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(ai_text=False, email_alerts=False)
    target = add_target(user.id, f"json://127.0.0.1:{port_of(webhook)}/hook", "LAN hook")  # type: ignore[arg-type]
    allow_private(monkeypatch, "")  # the administrator closed it again
    event_id = one_alert(user.id)  # type: ignore[arg-type]

    report = await dispatch_pending()

    assert report.failed == 1 and webhook.received == []
    _, [delivery] = load_event(event_id)
    assert delivery.status == "failed" and "private network" in (delivery.error or "")
    [shown] = list_targets(user.id)  # type: ignore[arg-type]
    assert shown.last_status == "failed" and "NOTIFY_ALLOW_PRIVATE_HOSTS" in (shown.last_detail or "")
    [status] = [s for s in channel_status(user.id) if s.name == target.delivery_name]  # type: ignore[arg-type]
    assert status.label == "LAN hook" and status.error and "private network" in status.error


async def test_a_redirect_into_the_private_network_is_not_followed(
    webhook: WebhookStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookStub() as inside:
        allow_private(monkeypatch, "localhost")  # the name is open, the bare address is not
        user = make_user(ai_text=False, email_alerts=False)
        add_target(user.id, f"json://localhost:{port_of(webhook)}/hook", "Redirector")  # type: ignore[arg-type]
        webhook.redirect_to(f"http://127.0.0.1:{port_of(inside)}/admin")
        one_alert(user.id)  # type: ignore[arg-type]

        report = await dispatch_pending()

        assert len(webhook.received) == 1 and inside.received == []
        assert report.failed == 1


async def test_a_server_error_is_retried_with_backoff_and_delivered_later(webhook: WebhookStub) -> None:
    user = make_user(ai_text=False, email_alerts=False)
    add_target(user.id, f"json://127.0.0.1:{port_of(webhook)}/hook", "Flaky")  # type: ignore[arg-type]
    webhook.fail_next(503)
    event_id = one_alert(user.id)  # type: ignore[arg-type]
    now = utcnow()

    first = await dispatch_pending(now)

    assert first.retrying == 1
    _, [delivery] = load_event(event_id)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == now + timedelta(seconds=30)
    later = await dispatch_pending(now + timedelta(seconds=31))
    assert later.sent == 1 and len(webhook.received) == 2


async def test_a_removed_target_gets_nothing_more(webhook: WebhookStub) -> None:
    user = make_user(ai_text=False, email_alerts=False)
    target = add_target(user.id, f"json://127.0.0.1:{port_of(webhook)}/hook", "Old")  # type: ignore[arg-type]
    webhook.fail_next(503)
    one_alert(user.id)  # type: ignore[arg-type]
    now = utcnow()
    await dispatch_pending(now)
    stranger = make_user("eve@example.com", "Eve")

    assert not remove_target(stranger.id, target.id)  # type: ignore[arg-type]
    assert remove_target(user.id, target.id)  # type: ignore[arg-type]
    later = await dispatch_pending(now + timedelta(seconds=31))

    assert later.sent == 0 and len(webhook.received) == 1


async def test_secrets_in_a_url_are_never_shown(webhook: WebhookStub) -> None:
    user = make_user(ai_text=False, email_alerts=False)
    url = f"gotify://127.0.0.1:{port_of(webhook)}/AppTokenSecret123"

    target = add_target(user.id, url, "Gotify")  # type: ignore[arg-type]
    outcomes = await send_test_alert(user.id)  # type: ignore[arg-type]

    shown = f"gotify://127.0.0.1:{port_of(webhook)}/•••"
    assert target.shown_url == shown
    assert [s.recipient for s in channel_status(user.id) if s.name.startswith("apprise:")] == [shown]  # type: ignore[arg-type]
    assert [(o.status, o.detail) for o in outcomes] == [("sent", f"Delivered to {shown}.")]
    assert len(webhook.received) == 1  # the URL, secret and all, was used to send
    assert (
        masked_url("jsons://user:pass@hooks.example.com:8443/x?token=abc")
        == "jsons://hooks.example.com:8443/•••"
    )
    listed = CliRunner().invoke(main, ["notify", "channels", "list", "--user", "alex@example.com"])
    assert shown in listed.output and "AppTokenSecret123" not in listed.output
    assert (
        redact(f"could not reach {url} today")
        == f"could not reach gotify://127.0.0.1:{port_of(webhook)}/[redacted] today"
    )
    assert (
        redact("ntfys://me:pa55@ntfy.example.com/topic?token=tk_1") == "ntfys://ntfy.example.com/[redacted]"
    )


def test_a_plugin_that_would_bypass_the_guard_is_refused_in_words(webhook: WebhookStub) -> None:
    user = make_user()
    for url in ("mailto://user:pass@mail.example.com", "mqtt://broker.example.com/topic", "not a url"):
        with pytest.raises(AppriseTargetError, match="CloudTrack does not send alerts to"):
            add_target(user.id, url, "Nope")  # type: ignore[arg-type]
    with pytest.raises(AppriseTargetError, match="Give the channel a name"):
        add_target(user.id, f"json://127.0.0.1:{port_of(webhook)}/hook", "  ")  # type: ignore[arg-type]


def test_the_cli_adds_lists_and_removes_channels(webhook: WebhookStub) -> None:
    make_user()
    runner = CliRunner()
    url = f"ntfy://127.0.0.1:{port_of(webhook)}/prices"

    added = runner.invoke(
        main, ["notify", "channels", "add", "--user", "alex@example.com", url, "--name", "Phone"]
    )
    assert added.exit_code == 0, added.output
    assert f"Phone (ntfy://127.0.0.1:{port_of(webhook)}/•••)" in added.output
    listed = runner.invoke(main, ["notify", "channels", "list", "--user", "alex@example.com"])
    assert "Phone: ntfy://127.0.0.1" in listed.output and "nothing sent yet" in listed.output
    target_id = listed.output.split()[0]
    refused = runner.invoke(
        main, ["notify", "channels", "add", "--user", "alex@example.com", "mailto://x@y.z", "--name", "Mail"]
    )
    assert refused.exit_code != 0 and "does not send alerts to" in refused.output
    removed = runner.invoke(main, ["notify", "channels", "remove", "--user", "alex@example.com", target_id])
    assert removed.exit_code == 0, removed.output
    assert (
        "no Apprise channels"
        in runner.invoke(main, ["notify", "channels", "list", "--user", "alex@example.com"]).output
    )


async def test_the_settings_page_adds_tests_and_removes_an_apprise_channel(webhook: WebhookStub) -> None:
    user = make_user(ai_text=False, email_alerts=False)
    state = reflex_state(NotificationsState, accounts.start_session(user.id))  # type: ignore[arg-type]
    await run_handler(state, "load_notifications")
    assert state.apprise_channels == []

    await run_handler(state, "add_apprise", {"apprise_name": "Phone", "apprise_url": "mailto://a@b.example"})
    assert "does not send alerts to" in state.apprise_error and state.apprise_channels == []

    url = f"ntfy://127.0.0.1:{port_of(webhook)}/secret-topic"
    await run_handler(state, "add_apprise", {"apprise_name": "Phone", "apprise_url": url})
    shown = f"ntfy://127.0.0.1:{port_of(webhook)}/•••"
    assert state.apprise_error == "" and shown in state.apprise_message
    [line] = state.apprise_channels
    assert (line.label, line.state, line.detail) == ("Phone", ChannelState.ON, f"Alerts go to {shown}.")
    assert line.last_outcome == "Nothing sent here yet."
    assert "secret-topic" not in repr(state.apprise_channels)

    async for _ in NotificationsState.event_handlers["test_apprise"].fn(state, line.name):
        pass
    assert state.test_results == [f"Phone: sent to {shown}."]
    assert len(webhook.received) == 1
    assert state.apprise_channels[0].last_outcome == "The last alert was delivered."

    await run_handler(state, "remove_apprise", line.name)
    assert state.apprise_channels == [] and state.apprise_message == "Apprise channel removed."


def test_the_preview_shows_each_apprise_channel_masked_and_sends_nothing(webhook: WebhookStub) -> None:
    user = make_user(ai_text=False, email_alerts=False)
    make_watch(user.id)  # type: ignore[arg-type]
    add_target(user.id, f"ntfy://127.0.0.1:{port_of(webhook)}/secret-topic", "Phone")  # type: ignore[arg-type]

    result = CliRunner().invoke(main, ["notify", "preview", "--user", "alex@example.com"])

    assert result.exit_code == 0, result.output
    assert f"== Phone to ntfy://127.0.0.1:{port_of(webhook)}/•••" in result.output
    assert "secret-topic" not in result.output and webhook.received == []
