"""`notify …`: check a server's alert channels, and run the outbox by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cloudtrack_app.cli._database import needs_database

if TYPE_CHECKING:
    from cloudtrack_app.notify.dispatch import ChannelOutcome

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
    """Alert channels: e-mail (Resend), Telegram, AI text."""


@notify.command("test")
@click.option(
    "--user", "email", required=True, help="The account (e-mail address) to send the sample alert to."
)
@needs_database
def test(email: str) -> None:
    """Send a sample alert through every channel the user has enabled, and print each outcome."""
    import asyncio

    from cloudtrack_app.notify.dispatch import channel_status, send_test_alert

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
