"""Saying what went wrong: a blocked shop, a page without a price, a gone page and a changed
layout are told apart on the dashboard, the product page, `watch list` and the API, each with
how old the last good price is."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from benchmarks.shop import LocalShop
from cloudtrack_app.api.app import watch_json
from cloudtrack_app.cli import main
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Product, Watch, utcnow
from cloudtrack_app.tracking.checker import Checker
from cloudtrack_app.tracking.fetch import FetchError, FetchErrorKind, close_clients
from cloudtrack_app.tracking.fetch.base import bot_wall_error, status_error
from cloudtrack_app.tracking.ingest import add_watch
from cloudtrack_app.tracking.status import ReadingProblem, problem_of_fetch_error, reading_status
from cloudtrack_app.tracking.watches import list_watches
from cloudtrack_app.views.dashboard import dashboard_page
from cloudtrack_app.views.product import product_view
from tests.engine_fixtures import EDUSCHO_SHELF, local_shop_settings, make_due, make_user

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
NO_PRICE_PAGE = "<html><head><title>Shelf</title></head><body><h1>Shelf</h1><p>Call us.</p></body></html>"


class FetchCase(NamedTuple):
    error: FetchError
    problem: ReadingProblem


@pytest.mark.parametrize(
    "case",
    [
        FetchCase(bot_wall_error(403, ""), ReadingProblem.BLOCKED),
        FetchCase(bot_wall_error(503, ""), ReadingProblem.BLOCKED),
        FetchCase(status_error(403, "Forbidden"), ReadingProblem.BLOCKED),
        FetchCase(status_error(429, "Too Many Requests"), ReadingProblem.BLOCKED),
        FetchCase(status_error(404, "Not Found"), ReadingProblem.PAGE_GONE),
        FetchCase(status_error(410, "Gone"), ReadingProblem.PAGE_GONE),
        FetchCase(status_error(500, "Internal Server Error"), ReadingProblem.FAILED),
        FetchCase(FetchError(FetchErrorKind.TIMEOUT, "slow", transient=True), ReadingProblem.UNREACHABLE),
        FetchCase(FetchError(FetchErrorKind.UNREACHABLE, "down", transient=True), ReadingProblem.UNREACHABLE),
        FetchCase(FetchError(FetchErrorKind.TOO_LARGE, "big"), ReadingProblem.FAILED),
    ],
)
def test_each_failed_fetch_is_one_named_problem(case: FetchCase) -> None:
    assert problem_of_fetch_error(case.error) == case.problem


class StatusCase(NamedTuple):
    problem: str | None
    pick_missing: bool
    last_good_at: datetime | None
    status: str
    text: str
    last_good: str


@pytest.mark.parametrize(
    "case",
    [
        StatusCase(None, False, NOW - timedelta(hours=2), "ok", "", "last good price 2 hours ago"),
        StatusCase(
            "blocked",
            False,
            NOW - timedelta(days=3),
            "blocked",
            "The shop is blocking our checks",
            "last good price 3 days ago",
        ),
        StatusCase(
            "no_price",
            False,
            NOW - timedelta(days=2),
            "no_price",
            "No price on the page",
            "last good price 2 days ago",
        ),
        StatusCase(
            "page_gone",
            False,
            None,
            "page_gone",
            "The page is gone (the shop answers 404 or 410)",
            "never read",
        ),
        # The watch's own pick is gone: that is its problem, whether or not the automatic reading worked.
        StatusCase(
            None,
            True,
            NOW,
            "layout_changed",
            "The page layout changed: pick the price again",
            "last good price 1 second ago",
        ),
        StatusCase(
            "no_price",
            True,
            NOW,
            "layout_changed",
            "The page layout changed: pick the price again",
            "last good price 1 second ago",
        ),
        # A page that cannot be fetched at all says so first: the pick cannot be judged.
        StatusCase(
            "blocked",
            True,
            NOW,
            "blocked",
            "The shop is blocking our checks",
            "last good price 1 second ago",
        ),
        StatusCase("something_new", False, NOW, "ok", "", "last good price 1 second ago"),
    ],
)
def test_the_status_shown_comes_from_the_product_problem_and_the_watch_pick(case: StatusCase) -> None:
    shown = reading_status(case.problem, case.last_good_at, NOW, pick_missing=case.pick_missing)
    assert (shown.status, shown.text, shown.last_good_text) == (case.status, case.text, case.last_good)


@pytest.fixture
async def shop(db_url: str, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch)
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        yield running
    await close_clients()


def good_price_read_days_ago(product_id: int, days: int) -> None:
    with session_scope() as session:
        session.execute(
            sa.update(Product)
            .where(Product.id == product_id)
            .values(last_good_at=utcnow() - timedelta(days=days, minutes=1))
        )


def shown_everywhere(user_id: int, product_id: int) -> dict[str, tuple[str, str, str]]:
    """The status as the dashboard card, the product page and the API show it."""
    [row] = dashboard_page(user_id).rows
    detail = product_view(user_id, product_id, "30").detail
    [view] = list_watches(user_id)
    api = watch_json(view)
    return {
        "dashboard": (row.status, row.status_text, row.last_good_text),
        "product page": (detail.status, detail.status_text, detail.last_good_text),
        "api": (
            api["status"],
            api["status_text"],
            "last good price set" if api["last_good_at"] else "never read",
        ),
    }


def watch_list(email: str) -> str:
    result = CliRunner().invoke(main, ["watch", "list", "--user", email])
    assert result.exit_code == 0, result.output
    return result.output


async def test_blocked_no_price_gone_and_ok_are_told_apart_with_the_age_of_the_last_good_price(
    shop: LocalShop,
) -> None:
    ada = make_user("ada@example.com")
    added = await add_watch(ada, shop.url("/shelf"), "price", "80")
    product_id = added.product_id
    good_price_read_days_ago(product_id, 3)
    expected_age = "last good price 3 days ago"

    cases = [
        (lambda: shop.set_status("/shelf", 403), "blocked", "The shop is blocking our checks"),
        (
            lambda: shop.set_status("/shelf", 404),
            "page_gone",
            "The page is gone (the shop answers 404 or 410)",
        ),
        (
            lambda: (shop.set_status("/shelf", None), shop.set_html("/shelf", NO_PRICE_PAGE)),
            "no_price",
            "No price on the page",
        ),
    ]
    for break_the_page, status, text in cases:
        break_the_page()
        make_due()
        await Checker().run_cycle()
        shown = shown_everywhere(ada, product_id)
        assert shown["dashboard"] == shown["product page"] == (status, text, expected_age)
        assert shown["api"] == (status, text, "last good price set")
        listed = watch_list("ada@example.com")
        assert f"{text} ({expected_age})" in listed
        assert "€99.95" in listed  # the last good price is still what the watch compares with

    shop.add_corpus_page("/shelf", EDUSCHO_SHELF)
    make_due()
    await Checker().run_cycle()
    shown = shown_everywhere(ada, product_id)
    assert shown["dashboard"] == shown["product page"]
    assert shown["dashboard"][:2] == ("ok", "") and re.fullmatch(
        r"last good price \d+ seconds? ago", shown["dashboard"][2]
    )
    assert "last good price" not in watch_list("ada@example.com")


async def test_a_watch_whose_pick_is_gone_says_the_layout_changed_and_only_to_its_owner(
    shop: LocalShop,
) -> None:
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    added = await add_watch(ada, shop.url("/shelf"), "price", "80")
    await add_watch(bob, shop.url("/shelf"), "price", "80")
    with session_scope() as session:  # what the picked-selector check sets when Ada's pick stops matching
        session.execute(sa.update(Watch).where(Watch.user_id == ada).values(pick_missing_since=utcnow()))
    assert shown_everywhere(ada, added.product_id)["dashboard"][:2] == (
        "layout_changed",
        "The page layout changed: pick the price again",
    )
    assert "The page layout changed" in watch_list("ada@example.com")
    assert shown_everywhere(bob, added.product_id)["dashboard"][0] == "ok"
    assert "layout changed" not in watch_list("bob@example.com")
