"""`watch …`: add, list, import and export a user's watches from the shell (the same code path as the UI)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cloudtrack_app.cli._database import needs_database

if TYPE_CHECKING:
    from decimal import Decimal

MODES = click.Choice(["price", "stock", "both"])


def user_id_for(email: str) -> int:
    from sqlmodel import select

    from cloudtrack_app.auth.accounts import normalise_email
    from cloudtrack_app.db import session_scope
    from cloudtrack_app.models import User

    with session_scope() as session:
        user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None or user.id is None:
        raise click.ClickException(f"No account with the email {email}. Create one with: users create EMAIL")
    return user.id


@click.group()
def watch() -> None:
    """Add, list, pause, resume, delete, import and export watches."""


@watch.command("add")
@click.option("--user", "email", required=True, help="Email of the account that owns the watch.")
@click.argument("url")
@click.option("--mode", type=MODES, default="price", show_default=True, help="What to watch.")
@click.option("--target", default=None, help="Alert when the price is at or below this (e.g. 79.99).")
@click.option("--any-drop", is_flag=True, help="Alert on any price drop instead of a target.")
@click.option("--drop-percent", default=None, help="Alert on a drop of at least this many percent instead.")
@click.option(
    "--lowest-days",
    type=click.Choice(["30", "90", "365"]),
    default=None,
    help="Alert on the lowest price of the last N days instead.",
)
@click.option("--notify-increase", is_flag=True, help="Also alert when the price goes up.")
@needs_database
def add(
    email: str,
    url: str,
    mode: str,
    target: str | None,
    any_drop: bool,
    drop_percent: str | None,
    lowest_days: str | None,
    notify_increase: bool,
) -> None:
    """Watch the product at URL: fetch it once, then check it on schedule."""
    import asyncio

    from cloudtrack_app.tracking.fetch import PRIVATE_NETWORK_HINT
    from cloudtrack_app.tracking.ingest import IngestError, add_watch

    user_id = user_id_for(email)
    try:
        result = asyncio.run(
            add_watch(
                user_id,
                url,
                mode,
                target,
                any_drop=any_drop,
                drop_percent=drop_percent,
                lowest_window_days=lowest_days,
                notify_increase=notify_increase,
            )
        )
    except IngestError as error:
        hint = {"any_drop": " (add --any-drop)", "price_watch": " (use --mode price)"}.get(
            error.offer or "", ""
        )
        if error.code == "blocked_address":
            hint = f" {PRIVATE_NETWORK_HINT}"
        raise click.ClickException(f"{error.message}{hint}") from error
    click.echo(result.message)
    click.echo(f"Watch {result.watch_id} on product {result.product_id}.")


def _price(value: Decimal | None, currency: str | None) -> str:
    from cloudtrack_app.i18n import format_money

    return format_money(value, currency, missing="-")


@watch.command("list")
@click.option("--user", "email", required=True, help="Email of the account.")
@needs_database
def list_(email: str) -> None:
    """List the account's watches with their current price and state."""
    from cloudtrack_app.tracking.watches import list_watches

    views = list_watches(user_id_for(email))
    if not views:
        click.echo("No watches yet. Add one with: watch add --user EMAIL URL --target PRICE")
        return
    for view in views:
        if view.lowest_window_days is not None:
            price_rule = f"lowest in {view.lowest_window_days} days"
        elif view.drop_percent is not None:
            price_rule = f"drop of {view.drop_percent.normalize():f} % or more"
        elif view.any_drop:
            price_rule = "any price drop"
        else:
            price_rule = f"price ≤ {_price(view.target_price, view.currency)}"
        if view.notify_increase:
            price_rule += " or any rise"
        wants = {"price": price_rule, "stock": "restock", "both": f"{price_rule} or restock"}
        state = "paused" if not view.active else "fulfilled" if view.fulfilled else "active"
        if view.failing:
            state += f", failing: {view.last_error}"
        mark = "*" if view.price_selector else " "
        click.echo(
            f"{view.watch_id:>5}  {(view.title or view.url)[:50]:<50} {mark}{_price(view.price, view.currency):>14}"
            f"  {view.availability:<12}  {wants[view.mode]}  [{state}]"
        )
        click.echo(f"       product {view.product_id}  {view.url}")
        if view.pick_missing:
            click.echo(
                "       the page layout changed: your picked price is gone, the automatic one is shown"
            )
        elif view.price_selector:
            click.echo(f"       * your picked price: {view.price_selector}")


@watch.command("pick")
@click.option("--user", "email", required=True, help="Email of the account.")
@click.argument("watch_id", type=int)
@click.option("--selector", default=None, help="CSS selector of the element that shows the right price.")
@click.option("--clear", is_flag=True, help="Forget the picked price: back to the automatic reading.")
@needs_database
def pick(email: str, watch_id: int, selector: str | None, clear: bool) -> None:
    """Make the element at SELECTOR the price of WATCH_ID (read once now), or --clear it."""
    import asyncio

    from cloudtrack_app.db import session_scope
    from cloudtrack_app.tracking.extract import validate_selector
    from cloudtrack_app.tracking.ingest import IngestError, preview_url
    from cloudtrack_app.tracking.picks import PickRefused, clear_pick, set_pick
    from cloudtrack_app.tracking.watches import WatchNotFound, get_watch

    if clear == (selector is not None):
        raise click.ClickException("Give either --selector CSS or --clear.")
    user_id = user_id_for(email)
    try:
        view = get_watch(user_id, watch_id)
        if clear:
            with session_scope() as session:
                clear_pick(session, user_id=user_id, watch_id=watch_id)
            click.echo(f"Watch {watch_id}: back to the automatic price.")
            return
        assert selector is not None
        if (problem := validate_selector(selector)) is not None:
            raise click.ClickException(problem)
        page = asyncio.run(preview_url(view.url, selectors=[selector]))
        found = page.picked.get(selector)
        if found is None:
            raise click.ClickException(f"That selector finds no price on {view.url}.")
        with session_scope() as session:
            set_pick(
                session,
                user_id=user_id,
                watch_id=watch_id,
                selector=selector,
                price=found.price,
                currency=found.currency,
            )
    except (WatchNotFound, PickRefused, IngestError) as error:
        raise click.ClickException(getattr(error, "message", None) or str(error)) from error
    click.echo(
        f"Watch {watch_id}: found {_price(found.price, found.currency)} at {selector}; it is this watch's price now."
    )


def _manage(action: str, email: str, watch_id: int) -> None:
    from cloudtrack_app.tracking.watches import (
        WatchNotFound,
        delete_watch,
        pause_watch,
        rearm_watch,
        resume_watch,
    )

    operations = {"pause": pause_watch, "resume": resume_watch, "rearm": rearm_watch}
    user_id = user_id_for(email)
    try:
        if action == "delete":
            delete_watch(user_id, watch_id)
        else:
            operations[action](user_id, watch_id)
    except WatchNotFound as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Watch {watch_id}: {action}d." if action.endswith("e") else f"Watch {watch_id}: {action}ed.")


@watch.command("pause")
@click.option("--user", "email", required=True, help="Email of the account.")
@click.argument("watch_id", type=int)
@needs_database
def pause(email: str, watch_id: int) -> None:
    """Stop checking and alerting for WATCH_ID."""
    _manage("pause", email, watch_id)


@watch.command("resume")
@click.option("--user", "email", required=True, help="Email of the account.")
@click.argument("watch_id", type=int)
@needs_database
def resume(email: str, watch_id: int) -> None:
    """Check and alert for WATCH_ID again."""
    _manage("resume", email, watch_id)


@watch.command("rearm")
@click.option("--user", "email", required=True, help="Email of the account.")
@click.argument("watch_id", type=int)
@needs_database
def rearm(email: str, watch_id: int) -> None:
    """After a restock alert, wait for the next restock of WATCH_ID."""
    _manage("rearm", email, watch_id)


@watch.command("delete")
@click.option("--user", "email", required=True, help="Email of the account.")
@click.argument("watch_id", type=int)
@needs_database
def delete(email: str, watch_id: int) -> None:
    """Delete WATCH_ID (the product's history stays for other watchers)."""
    _manage("delete", email, watch_id)


@watch.command("import")
@click.option("--user", "email", required=True, help="Email of the account that gets the watches.")
@click.argument("file", type=click.File("rb"))
def import_(email: str, file: click.utils.LazyFile) -> None:
    """Watch every link in FILE: one link per line, a CSV file with a url column (and
    optional mode and target columns), or a JSON export. Prints what became of each line."""
    import asyncio

    from cloudtrack_app.tracking.imports import ImportBusy, import_report, run_import, start_import
    from cloudtrack_app.tracking.transfer import ImportRefused, parse_import

    user_id = user_id_for(email)
    try:
        job_id = start_import(user_id, parse_import(file.read()))
    except (ImportRefused, ImportBusy) as error:
        raise click.ClickException(str(error)) from error

    async def finish() -> None:
        await run_import(job_id)
        # A server's import runner may have claimed the job first: wait for its report.
        while (report := import_report(user_id, job_id)) is not None and report.running:
            await asyncio.sleep(1)

    asyncio.run(finish())
    report = import_report(user_id, job_id)
    assert report is not None
    for line in report.lines:
        click.echo(f"line {line.position:>4}  {line.outcome:<8} {line.url}")
        if line.message:
            click.echo(f"           {line.message}")
    click.echo(f"{report.added} added, {report.watched} already watched, {report.refused} refused.")


@watch.command("export")
@click.option("--user", "email", required=True, help="Email of the account.")
@click.option(
    "--format", "format_", type=click.Choice(["csv", "json"]), default="json", show_default=True,
    help="JSON re-imports every setting; CSV is for spreadsheets.",
)  # fmt: skip
def export(email: str, format_: str) -> None:
    """Print all the account's watches (to save with > FILE)."""
    from cloudtrack_app.tracking.transfer import export_csv, export_json

    user_id = user_id_for(email)
    click.echo(export_json(user_id) if format_ == "json" else export_csv(user_id), nl=False)
