"""`notify …`: check a server's alert channels, preview an alert, and run the outbox by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cloudtrack_app.cli._database import needs_database

if TYPE_CHECKING:
    from cloudtrack_app.notify.dispatch import ChannelOutcome
    from cloudtrack_app.notify.preview import AlertPreview

_COLOURS = {"sent": "green", "failed": "red"}


def _user_id(email: str) -> int:
    from sqlmodel import select

    from cloudtrack_app.auth.accounts import normalise_email
    from cloudtrack_app.db import session_scope
    from cloudtrack_app.models import User

    with session_scope() as db:
        user_id = db.exec(select(User.id).where(User.email == normalise_email(email))).first()
    if user_id is None:
        raise click.ClickException(f"No account with the e-mail address {email}.")
    return user_id


def _echo_outcome(outcome: ChannelOutcome) -> None:
    status = click.style(f"{outcome.status:<9}", fg=_COLOURS.get(outcome.status, "yellow"))
    click.echo(f"  {outcome.channel:<9} {status} {outcome.detail}")


@click.group()
def notify() -> None:
    """Alert channels: e-mail (Resend or SMTP), Telegram, AI text."""


@notify.command("test")
@click.option(
    "--user", "email", required=True, help="The account (e-mail address) to send the sample alert to."
)
@needs_database
def test(email: str) -> None:
    """Send a sample alert through every channel the user has enabled, and print each outcome."""
    import asyncio

    from cloudtrack_app.notify.channel_status import channel_status
    from cloudtrack_app.notify.dispatch import send_test_alert

    user_id = _user_id(email)
    click.echo(f"Channels for {email}:")
    for status in channel_status(user_id):
        state = "on" if status.enabled else "off"
        server = "" if status.configured else " (not configured on this server)"
        error = f"; last error: {status.error}" if status.error else ""
        click.echo(f"  {status.name:<9} {state}{server}{error}")
    click.echo("Sending a test alert…")
    outcomes = asyncio.run(send_test_alert(user_id))
    for outcome in outcomes:
        _echo_outcome(outcome)
    if any(outcome.status == "failed" for outcome in outcomes):
        raise SystemExit(1)


@notify.command("dispatch")
@click.option("--limit", default=50, show_default=True, help="Most alerts to handle in this run.")
@needs_database
def dispatch(limit: int) -> None:
    """Send the alerts that are due now (the scheduler does this every few seconds)."""
    import asyncio

    from cloudtrack_app.notify.dispatch import dispatch_pending

    report = asyncio.run(dispatch_pending(limit=limit))
    click.echo(
        f"{report.claimed} alert(s): {report.sent} sent, {report.retrying} to retry, "
        f"{report.failed} failed, {report.skipped} kept without sending."
    )
    for event_id, outcomes in sorted(report.outcomes.items()):
        click.echo(f"Alert {event_id}:")
        for outcome in outcomes:
            _echo_outcome(outcome)


def _printable(text: str) -> str:
    """`text` safe for a terminal: a shop's title may hold control sequences (C0 or C1)."""
    return "".join(
        ch if ch in "\n\t" or not (ord(ch) < 32 or 127 <= ord(ch) < 160) else "\ufffd" for ch in text
    )


def _echo_preview(preview: AlertPreview, email: str, model: str) -> None:
    message = preview.message
    kind = preview.kind.replace("_", " ")
    click.echo(f"Preview of a {kind} alert for {email}, watch {preview.watch_id}. Nothing is sent.")
    if message.ai_used:
        click.echo(f"Text: written by the model {model}; it passed the check.")
    else:
        click.echo(f"Text: the template. {message.fallback_reason}")
    for channel in preview.channels:
        click.echo("")
        if channel.rendered is None:
            click.echo(f"== {channel.label}: nothing would be sent ({channel.note}).")
            continue
        click.echo(f"== {channel.label} to {channel.recipient}")
        if channel.channel == "email":
            click.echo(_printable(f"Subject: {channel.rendered.subject}"))
            click.echo("")
        click.echo(_printable(channel.rendered.body.rstrip("\n")))
        for label, url in channel.rendered.links:
            click.echo(_printable(f"Button: {label}: {url}"))
    if all(channel.rendered is None for channel in preview.channels):
        click.echo("")
        click.echo("== Alert history in the app (no channel would send it)")
        click.echo(_printable(f"Subject: {message.subject}"))
        click.echo("")
        click.echo(_printable(message.body))


@notify.command("preview")
@click.option("--user", "email", required=True, help="The account (e-mail address) whose alert to preview.")
@click.option("--watch", "watch_id", type=int, help="The watch to preview (default: the account's newest).")
def preview(email: str, watch_id: int | None) -> None:
    """Print what an alert for a watch would say on each channel, AI text or template and why.

    Builds the facts of a plausible alert (a price drop, or a restock for a stock watch) from
    the product as it is now, asks the configured model and runs the wording check. Sends nothing.
    """
    import asyncio

    from cloudtrack_app.notify.preview import PreviewRefused, preview_alert
    from cloudtrack_app.settings import get_settings

    user_id = _user_id(email)
    try:
        alert = asyncio.run(preview_alert(user_id, email, watch_id))
    except PreviewRefused as refused:
        raise click.ClickException(str(refused)) from refused
    _echo_preview(alert, email, get_settings().openai_model)


@notify.group("channels")
def channels() -> None:
    """A person's Apprise channels (ntfy, Gotify, JSON webhooks, Discord, …)."""


@channels.command("list")
@click.option("--user", "email", required=True, help="The account (e-mail address).")
@needs_database
def channels_list(email: str) -> None:
    """List the account's Apprise channels, their URLs masked, with the last delivery outcome."""
    from cloudtrack_app.notify.apprise_channel import list_targets

    targets = list_targets(_user_id(email))
    if not targets:
        click.echo(f"{email} has no Apprise channels.")
    for target in targets:
        last = f"; last: {target.last_status}" if target.last_status else "; nothing sent yet"
        detail = f" ({target.last_detail})" if target.last_status == "failed" and target.last_detail else ""
        click.echo(_printable(f"  {target.id:<5} {target.name}: {target.shown_url}{last}{detail}"))


@channels.command("add")
@click.option("--user", "email", required=True, help="The account (e-mail address).")
@click.option("--name", required=True, help="A name to tell this channel from the others.")
@click.argument("url")
@needs_database
def channels_add(email: str, name: str, url: str) -> None:
    """Add an Apprise URL (e.g. ntfys://ntfy.example.com/prices) as an alert channel."""
    from cloudtrack_app.notify.apprise_channel import AppriseTargetError, add_target

    try:
        target = add_target(_user_id(email), url, name)
    except AppriseTargetError as refused:
        raise click.ClickException(str(refused)) from refused
    click.echo(_printable(f"Added {target.id}: {target.name} ({target.shown_url})."))


@channels.command("remove")
@click.option("--user", "email", required=True, help="The account (e-mail address).")
@click.argument("target_id", type=int)
@needs_database
def channels_remove(email: str, target_id: int) -> None:
    """Remove one of the account's Apprise channels, by the number `list` shows."""
    from cloudtrack_app.notify.apprise_channel import remove_target

    if not remove_target(_user_id(email), target_id):
        raise click.ClickException(f"{email} has no Apprise channel {target_id}.")
    click.echo(f"Removed Apprise channel {target_id}.")
