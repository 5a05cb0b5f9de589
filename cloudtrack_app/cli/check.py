"""`check`: run checks now from the shell, as the scheduler does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cloudtrack_app.cli._database import needs_database

if TYPE_CHECKING:
    from cloudtrack_app.tracking.check_results import CheckOutcome


async def _run_all(limit: int | None) -> dict[str, int]:
    from cloudtrack_app.tracking.checker import Checker
    from cloudtrack_app.tracking.fetch import close_clients

    checker = Checker()
    try:
        report = await checker.run_cycle(max_products=limit)
    finally:
        await checker.close()
        await close_clients()
    return {str(status): count for status, count in report.statuses.items()} | {"alerts": report.alerts}


async def _run_one(product_id: int) -> CheckOutcome:
    from cloudtrack_app.tracking.checker import Checker
    from cloudtrack_app.tracking.fetch import close_clients

    try:
        return await Checker(extract_processes=0).check_now(product_id)  # one page: no pool to start
    finally:
        await close_clients()


@click.command("check")
@click.option("--all", "check_all", is_flag=True, help="Check every product that is due now.")
@click.option("--product", "product_id", type=int, default=None, help="Check this product now, due or not.")
@click.option("--limit", type=int, default=None, help="With --all: stop after claiming this many products.")
@needs_database
def check(check_all: bool, product_id: int | None, limit: int | None) -> None:
    """Check due products (--all) or one product (--product ID) now, respecting leases."""
    import asyncio

    from cloudtrack_app.i18n import format_money
    from cloudtrack_app.tracking.check_results import CheckStatus
    from cloudtrack_app.tracking.status import PROBLEM_WORDS

    if check_all == (product_id is not None):
        raise click.UsageError("Give either --all or --product ID.")
    if check_all:
        figures = asyncio.run(_run_all(limit))
        summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in sorted(figures.items()))
        click.echo(f"Checked: {summary}.")
        return
    assert product_id is not None
    outcome = asyncio.run(_run_one(product_id))
    if outcome.status in (
        CheckStatus.NOT_FOUND,
        CheckStatus.BUSY,
        CheckStatus.FAILED,
        CheckStatus.LOST_LEASE,
    ):
        problem = f"{PROBLEM_WORDS[outcome.problem]}. " if outcome.problem else ""
        raise click.ClickException(f"Product {product_id}: {problem}{outcome.message}")
    if outcome.status == CheckStatus.HELD:
        click.echo(f"Product {product_id}: {outcome.message}")
        return
    price = format_money(outcome.price, outcome.currency, missing="no price")
    click.echo(
        f"Product {product_id}: {outcome.status.replace('_', ' ')} — {price}, {outcome.availability}, "
        f"{outcome.alerts} alert(s)."
    )
