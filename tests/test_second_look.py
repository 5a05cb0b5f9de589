"""A second look before a surprising alert: a drop of more than half the price, or a restock
right after the page changed, is read again once before anyone is told; it alerts only if the
second reading agrees, and the product page says what happened."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest

from benchmarks.shop import LocalShop
from cloudtrack_app.models import AlertKind
from cloudtrack_app.tracking.check_results import CheckStatus
from cloudtrack_app.tracking.checker import Checker, CycleReport
from cloudtrack_app.tracking.fetch import close_clients
from cloudtrack_app.tracking.ingest import add_watch
from cloudtrack_app.tracking.rules import (
    HoldReason,
    Observation,
    hold_reason,
    page_changed_shape,
    second_look_agrees,
)
from cloudtrack_app.views.product import product_view
from tests.engine_fixtures import (
    EDUSCHO_SHELF,
    alert_events,
    local_shop_settings,
    make_due,
    make_user,
    points,
    product,
)

D = Decimal
DROP, RESTOCK = AlertKind.PRICE_DROP, AlertKind.RESTOCK


def seen(price: str | None, availability: str = "in_stock", currency: str = "EUR") -> Observation:
    return Observation(None if price is None else D(price), currency, availability)


class HoldCase(NamedTuple):
    previous: Observation | None
    current: Observation
    alerts: frozenset[str]
    shape_changed: bool
    held: HoldReason | None


@pytest.mark.parametrize(
    "case",
    [
        HoldCase(seen("199.00"), seen("19.00"), frozenset({DROP}), False, HoldReason.BIG_DROP),
        HoldCase(seen("199.00"), seen("99.49"), frozenset({DROP}), False, HoldReason.BIG_DROP),
        HoldCase(seen("199.00"), seen("99.50"), frozenset({DROP}), False, None),  # exactly half: not more
        HoldCase(seen("199.00"), seen("150.00"), frozenset({DROP}), False, None),  # a normal drop
        HoldCase(seen("199.00"), seen("19.00"), frozenset(), False, None),  # would alert nobody
        HoldCase(seen("199.00", currency="USD"), seen("19.00"), frozenset({DROP}), False, None),
        HoldCase(None, seen("19.00"), frozenset({DROP}), False, None),
        HoldCase(
            seen("20.00", "out_of_stock"),
            seen("20.00"),
            frozenset({RESTOCK}),
            True,
            HoldReason.RESTOCK_AFTER_CHANGE,
        ),
        HoldCase(seen("20.00", "out_of_stock"), seen("20.00"), frozenset({RESTOCK}), False, None),
        HoldCase(seen("20.00"), seen("21.00"), frozenset({AlertKind.PRICE_INCREASE}), True, None),
    ],
)
def test_which_readings_are_held_for_a_second_look(case: HoldCase) -> None:
    assert (
        hold_reason(case.previous, case.current, case.alerts, shape_changed=case.shape_changed) == case.held
    )


class ShapeCase(NamedTuple):
    previous: Observation | None
    previous_source: str | None
    current_source: str | None
    previous_failed: bool
    changed: bool


@pytest.mark.parametrize(
    "case",
    [
        ShapeCase(seen("20.00", "out_of_stock"), "json-ld", "json-ld", False, False),
        ShapeCase(seen("20.00", "out_of_stock"), "json-ld", "visible", False, True),
        ShapeCase(seen(None, "out_of_stock"), "json-ld", "json-ld", False, True),
        ShapeCase(seen("20.00", "out_of_stock"), "json-ld", "json-ld", True, True),
        ShapeCase(seen("20.00", "out_of_stock"), None, "json-ld", False, False),
        ShapeCase(None, None, "json-ld", True, False),
    ],
)
def test_when_a_page_changed_shape(case: ShapeCase) -> None:
    changed = page_changed_shape(
        case.previous, case.previous_source, case.current_source, case.previous_failed
    )
    assert changed is case.changed


class AgreeCase(NamedTuple):
    reason: HoldReason
    held: Observation
    second: Observation
    agrees: bool


@pytest.mark.parametrize(
    "case",
    [
        AgreeCase(HoldReason.BIG_DROP, seen("19.00"), seen("19.00"), True),
        AgreeCase(HoldReason.BIG_DROP, seen("19.00"), seen("19.01"), True),  # within a cent
        AgreeCase(HoldReason.BIG_DROP, seen("19.00"), seen("19.02"), False),
        AgreeCase(HoldReason.BIG_DROP, seen("19.00"), seen("19.00", currency="USD"), False),
        AgreeCase(HoldReason.BIG_DROP, seen("19.00"), seen(None), False),
        AgreeCase(HoldReason.RESTOCK_AFTER_CHANGE, seen("20.00"), seen("22.00"), True),  # still in stock
        AgreeCase(HoldReason.RESTOCK_AFTER_CHANGE, seen("20.00"), seen("20.00", "out_of_stock"), False),
        AgreeCase(HoldReason.RESTOCK_AFTER_CHANGE, seen("20.00"), seen(None), False),
    ],
)
def test_what_a_second_reading_must_show_to_confirm_the_held_one(case: AgreeCase) -> None:
    assert second_look_agrees(case.reason, case.held, case.second) is case.agrees


# --- end to end: a real local shop, real checks, real history in the database -----------------


@pytest.fixture
async def shop(db_url: str, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch, SECOND_LOOK_SECONDS="1")
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        yield running
    await close_clients()


async def cycle() -> CycleReport:
    make_due()
    return await Checker().run_cycle()


def alerts_after(count: int) -> list[tuple[str, str | None]]:
    return [(e.kind, e.facts["price"]) for e in alert_events()[count:]]


def second_look_text(user_id: int, product_id: int) -> str:
    return product_view(user_id, product_id, "30").detail.second_look_text


async def test_a_drop_of_more_than_half_alerts_once_the_second_look_confirms_it(shop: LocalShop) -> None:
    ada = make_user()
    added = await add_watch(ada, shop.url("/shelf"), "price", None, any_drop=True)
    before = len(alert_events())

    shop.set_price("/shelf", D("19.95"))
    report = await cycle()
    assert report.statuses[CheckStatus.HELD] == 1
    held = product(added.product_id)
    assert held.next_check_at - held.last_checked_at == timedelta(seconds=1)  # SECOND_LOOK_SECONDS
    assert alerts_after(before) == []
    assert points(added.product_id) == [(D("99.95"), "in_stock")]  # not in the history yet
    assert second_look_text(ada, added.product_id) == (
        "A drop from €99.95 to €19.95 looked wrong, so it is being checked again before anyone is told."
    )

    report = await cycle()
    assert report.statuses[CheckStatus.CHANGED] == 1
    assert alerts_after(before) == [("price_drop", "19.95")]
    assert points(added.product_id)[-1] == (D("19.95"), "in_stock")
    text = second_look_text(ada, added.product_id)
    assert text.startswith("A drop from €99.95 to €19.95 looked wrong, so it was checked again ")
    assert text.endswith(" later: confirmed.")

    await cycle()  # the next check reads the same low price: nothing more, and no new second look
    assert alerts_after(before) == [("price_drop", "19.95")]
    assert second_look_text(ada, added.product_id) == text


async def test_a_drop_the_second_look_does_not_confirm_never_alerts_and_the_page_says_it_was_held(
    shop: LocalShop,
) -> None:
    ada = make_user()
    added = await add_watch(ada, shop.url("/shelf"), "price", None, any_drop=True)
    before = len(alert_events())

    shop.set_price("/shelf", D("9.99"))  # a glitch on the shop's side…
    assert (await cycle()).statuses[CheckStatus.HELD] == 1
    shop.set_price("/shelf", D("99.95"))  # …gone a moment later
    assert (await cycle()).statuses[CheckStatus.UNCHANGED] == 1

    assert alerts_after(before) == []
    assert [price for price, _ in points(added.product_id)] == [D("99.95")]
    text = second_look_text(ada, added.product_id)
    assert text.startswith("A drop from €99.95 to €9.99 looked wrong, so it was checked again ")
    assert text.endswith(" later: it was not confirmed.")
    assert product_view(ada, added.product_id, "30").detail.price_text == "€99.95"


async def test_a_second_reading_that_differs_is_recorded_normally_after_only_one_second_look(
    shop: LocalShop,
) -> None:
    ada = make_user()
    added = await add_watch(ada, shop.url("/shelf"), "price", None, any_drop=True)
    before = len(alert_events())

    shop.set_price("/shelf", D("19.95"))
    assert (await cycle()).statuses[CheckStatus.HELD] == 1
    shop.set_price("/shelf", D("9.95"))  # surprising again, but the one second look is spent
    assert (await cycle()).statuses[CheckStatus.CHANGED] == 1
    assert alerts_after(before) == [("price_drop", "9.95")]
    assert points(added.product_id)[-1] == (D("9.95"), "in_stock")
    assert second_look_text(ada, added.product_id).endswith("later: it was not confirmed.")


async def test_a_normal_drop_alerts_at_once(shop: LocalShop) -> None:
    ada = make_user()
    added = await add_watch(ada, shop.url("/shelf"), "price", None, any_drop=True)
    before = len(alert_events())

    shop.set_price("/shelf", D("79.95"))
    report = await cycle()
    assert report.statuses[CheckStatus.CHANGED] == 1 and report.statuses[CheckStatus.HELD] == 0
    assert alerts_after(before) == [("price_drop", "79.95")]
    assert second_look_text(ada, added.product_id) == ""


async def test_a_restock_right_after_the_page_changed_shape_is_read_again_before_it_alerts(
    shop: LocalShop,
) -> None:
    ada = make_user()
    shop.set_availability("/shelf", "OutOfStock")
    added = await add_watch(ada, shop.url("/shelf"), "stock", None)
    before = len(alert_events())
    in_stock_page = shop.page("/shelf")

    shop.set_html("/shelf", "<html><head><title>Shelf</title></head><body><h1>Shelf</h1></body></html>")
    assert (await cycle()).statuses[CheckStatus.FAILED] == 1  # no price on the page: it changed shape
    shop.set_html("/shelf", in_stock_page)
    shop.set_availability("/shelf", "InStock")
    assert (await cycle()).statuses[CheckStatus.HELD] == 1
    assert alerts_after(before) == []
    assert second_look_text(ada, added.product_id) == (
        "Back in stock right after the page changed looked wrong, so it is being checked again "
        "before anyone is told."
    )

    assert (await cycle()).statuses[CheckStatus.CHANGED] == 1
    assert alerts_after(before) == [("restock", "99.95")]
    assert second_look_text(ada, added.product_id).endswith("later: confirmed.")


async def test_a_restock_on_a_page_that_kept_its_shape_alerts_at_once(shop: LocalShop) -> None:
    ada = make_user()
    shop.set_availability("/shelf", "OutOfStock")
    await add_watch(ada, shop.url("/shelf"), "stock", None)
    before = len(alert_events())

    shop.set_availability("/shelf", "InStock")
    assert (await cycle()).statuses[CheckStatus.CHANGED] == 1
    assert alerts_after(before) == [("restock", "99.95")]
