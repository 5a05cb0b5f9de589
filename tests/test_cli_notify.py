"""`python -m cloudtrack_app.cli notify test --user EMAIL`: a self-hoster checks the alert setup."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cloudtrack_app.cli import main
from cloudtrack_app.models import AlertKind
from cloudtrack_app.notify.dispatch import send_test_alert
from tests.notify_fixtures import Stubs, configure, make_user
from tests.notify_fixtures import stubs_fixture as stubs_fixture
from tests.stubs import ModelReply


def test_notify_test_sends_a_sample_through_each_channel_and_prints_the_outcome(stubs: Stubs) -> None:
    make_user(telegram_chat_id=2024)
    stubs.openai.reply(ModelReply(content="garbage"))

    result = CliRunner().invoke(main, ["notify", "test", "--user", "Alex@Example.com"])

    assert result.exit_code == 0, result.output
    assert "email     on" in result.output and "telegram  on" in result.output
    assert "sent      Delivered to alex@example.com" in result.output
    assert "sent      Delivered to 2024" in result.output
    [email] = stubs.resend.emails
    assert email["subject"] == "Test alert: CloudTrack sample product now €19.99"
    assert "This is a test alert from CloudTrack" in email["text"]
    [message] = stubs.telegram.messages_to(2024)
    assert message["text"].startswith("<b>Test alert: CloudTrack sample product now €19.99</b>")


def test_notify_test_reports_a_failing_channel(stubs: Stubs) -> None:
    make_user(ai_text=False)
    stubs.resend.fail_next(422, name="validation_error", message="Invalid `to` field.")

    result = CliRunner().invoke(main, ["notify", "test", "--user", "alex@example.com"])

    assert result.exit_code == 1
    assert "failed    Resend refused the e-mail: Invalid `to` field." in result.output


def test_notify_test_without_channels_says_the_alert_is_only_recorded(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, RESEND_API_KEY="", TELEGRAM_BOT_TOKEN="")
    make_user()

    result = CliRunner().invoke(main, ["notify", "test", "--user", "alex@example.com"])

    assert result.exit_code == 0, result.output
    assert "not configured on this server" in result.output
    assert "recorded  No channel is enabled" in result.output


def test_notify_test_names_an_unknown_account(stubs: Stubs) -> None:
    result = CliRunner().invoke(main, ["notify", "test", "--user", "nobody@example.com"])
    assert result.exit_code != 0 and "No account with the e-mail address nobody@example.com" in result.output


async def test_the_settings_button_gets_one_outcome_per_channel(stubs: Stubs) -> None:
    user = make_user(ai_text=False, telegram_chat_id=9)
    outcomes = await send_test_alert(user.id)  # type: ignore[arg-type]
    assert [(o.channel, o.status) for o in outcomes] == [("email", "sent"), ("telegram", "sent")]
    assert stubs.telegram.messages_to(9) and AlertKind.TEST == "test"
