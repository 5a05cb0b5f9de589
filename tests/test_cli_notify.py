"""`notify test` and `notify preview`: a self-hoster checks the alert setup and tries a model."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from sqlmodel import select

from cloudtrack_app.cli import main
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AlertEvent, AlertKind
from cloudtrack_app.notify.dispatch import send_test_alert
from tests.notify_fixtures import Stubs, configure, make_user, make_watch
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


# --- notify preview: what an alert would say, sent nowhere ------------------------------

WORDING = (
    "{product} now {price}",
    "Hi {name}, {product} at {shop} dropped to {price}, within your {target} target.",
)


def preview(*args: str) -> Result:
    return CliRunner().invoke(main, ["notify", "preview", "--user", "alex@example.com", *args])


def nothing_was_sent(stubs: Stubs) -> bool:
    with session_scope() as db:
        events = db.exec(select(AlertEvent)).all()
    return stubs.resend.emails == [] and stubs.telegram.messages == [] and events == []


def test_preview_prints_the_models_text_on_each_channel_and_sends_nothing(stubs: Stubs) -> None:
    user = make_user(telegram_chat_id=2024)
    make_watch(user.id)
    stubs.openai.reply(ModelReply.json(*WORDING))

    result = preview()

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Preview of a price drop alert for alex@example.com, watch ")
    assert lines[0].endswith("Nothing is sent.")
    assert lines[1] == "Text: written by the model stub-model; it passed the check."
    body = "Hi Alex, Acme Coffee Grinder at shop.example dropped to €79.90, within your €80.00 target."
    email = result.output.split("== E-mail to alex@example.com\n", 1)[1].split("\n== ", 1)[0]
    assert email.startswith(
        f"Subject: Acme Coffee Grinder now €79.90\n\n{body}\n\nProduct: Acme Coffee Grinder\n"
    )
    assert "Turn off alerts for this product: https://cloudtrack.example/alerts/off?token=" in email
    telegram = result.output.split("== Telegram to 2024\n", 1)[1]
    assert telegram.startswith(
        f"<b>Acme Coffee Grinder now €79.90</b>\n\n{body}\n\nShop: <b>shop.example</b>"
    )
    assert "Button: View in CloudTrack: https://cloudtrack.example/products/" in telegram
    assert len(stubs.openai.requests) == 1
    assert nothing_was_sent(stubs)


def test_preview_says_why_the_models_text_was_rejected_and_shows_the_template(stubs: Stubs) -> None:
    user = make_user()
    make_watch(user.id)
    stubs.openai.reply(ModelReply.json("{product} now {price}", "Now {price}: ninety percent off!"))

    result = preview()

    assert result.exit_code == 0, result.output
    assert "Text: the template. AI text rejected: the body contains a number word 'ninety'." in result.output
    assert "Subject: Price drop: Acme Coffee Grinder now €79.90" in result.output
    assert "ninety" not in result.output.split("== E-mail", 1)[1]
    assert "== Telegram: nothing would be sent (turned off for this person)." in result.output
    assert nothing_was_sent(stubs)


def test_preview_without_a_model_shows_the_template(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, OPENAI_API_KEY="", OPENAI_BASE_URL="")
    user = make_user()
    make_watch(user.id, mode="stock", target=None)

    result = preview()

    assert result.exit_code == 0, result.output
    assert "Preview of a restock alert" in result.output
    assert "Text: the template. AI text is not configured on this server." in result.output
    assert "Subject: Back in stock: Acme Coffee Grinder at €79.90" in result.output
    assert stubs.openai.requests == []
    assert nothing_was_sent(stubs)


def test_preview_takes_the_newest_watch_or_the_one_asked_for(stubs: Stubs) -> None:
    user = make_user(ai_text=False)
    _, older = make_watch(user.id, title="Older Kettle")
    make_watch(user.id, title="Newer Grinder")

    newest = preview()
    chosen = preview("--watch", str(older.id))

    assert "Subject: Price drop: Newer Grinder now €79.90" in newest.output
    assert (
        f"watch {older.id}." in chosen.output
        and "Subject: Price drop: Older Kettle now €79.90" in chosen.output
    )
    assert "AI text is turned off in this person's settings." in chosen.output


def test_preview_prints_a_hostile_title_without_its_control_characters(stubs: Stubs) -> None:
    user = make_user(ai_text=False)
    make_watch(user.id, title="Grinder\x9b2J\x1b]0;owned\x07")

    result = preview()

    assert result.exit_code == 0, result.output
    assert not any(ch in result.output for ch in "\x9b\x1b\x07")
    assert "Grinder" in result.output


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("nobody", (), "No account with the e-mail address alex@example.com."),
        ("no watches", (), "alex@example.com has no watches to preview."),
        (
            "watch of another user",
            ("--watch", "{other}"),
            "Watch {other} belongs to another account, not alex@example.com.",
        ),
        ("unknown watch", ("--watch", "999999"), "There is no watch with id 999999."),
    ],
)
def test_preview_refuses_in_one_clear_line(
    stubs: Stubs, setup: str, args: tuple[str, ...], message: str
) -> None:
    other = 0
    if setup != "nobody":
        make_user()
        stranger = make_user("sam@example.com", "Sam")
        other = make_watch(stranger.id)[1].id or 0

    result = preview(*(arg.format(other=other) for arg in args))

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {message.format(other=other)}"]
    assert nothing_was_sent(stubs) and stubs.openai.requests == []
