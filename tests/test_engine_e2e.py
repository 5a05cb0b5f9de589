"""End to end: real saved pages on a local shop whose prices and stock change between cycles.

Two people watch products through the real ingestion path; after each change the check
cycle must write exactly the expected history points and alert events, no more.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from benchmarks.shop import LocalShop
from cloudtrack_app.tracking.checker import Checker, CycleReport
from cloudtrack_app.tracking.fetch import close_clients
from cloudtrack_app.tracking.ingest import add_watch
from cloudtrack_app.tracking.watches import list_watches
from tests.engine_fixtures import (
    EDUSCHO_SHELF,
    OTTO_GLASS,
    alert_events,
    local_shop_settings,
    make_due,
    make_user,
    points,
)

D = Decimal


async def cycle() -> CycleReport:
    make_due()
    return await Checker().run_cycle()


def new_alerts(seen: int) -> list[tuple[int, str, str, str | None]]:
    events = alert_events()[seen:]
    return [(e.user_id, e.kind, e.facts["reason"], e.facts["price"]) for e in events]


async def test_prices_and_stock_changing_between_cycles(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    local_shop_settings(monkeypatch, FAILURE_THRESHOLD="2")
    with LocalShop() as shop:
        shelf_url = shop.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR in stock
        glass_url = shop.add_corpus_page("/glass", OTTO_GLASS)  # 56.74 EUR
        shop.set_availability("/glass", "OutOfStock")
        ada, bob = make_user("ada@example.com"), make_user("bob@example.com")

        ada_shelf = await add_watch(ada, shelf_url + "?utm_source=mail", "price", "90")
        bob_shelf = await add_watch(bob, shelf_url, "price", None, any_drop=True)
        ada_glass = await add_watch(ada, glass_url, "stock", None)
        bob_glass = await add_watch(bob, glass_url, "both", "50")
        shelf, glass = ada_shelf.product_id, ada_glass.product_id
        assert bob_shelf.product_id == shelf and bob_glass.product_id == glass  # one product per page
        assert [e.kind for e in alert_events()] == ["confirmation"] * 4
        seen = 4

        # Nothing changed: 304s, no points, no alerts; each page fetched once for four watches.
        shop.reset_counts()
        report = await cycle()
        assert report.statuses == {"not_modified": 2}
        assert shop.request_count("/shelf") == 1 and shop.request_count("/glass") == 1
        assert points(shelf) == [(D("99.95"), "in_stock")]
        assert points(glass) == [(D("56.74"), "out_of_stock")]
        assert new_alerts(seen) == []

        # The shelf drops under Ada's target; the glass is back in stock.
        shop.set_price("/shelf", D("89.99"))
        shop.set_availability("/glass", "InStock")
        report = await cycle()
        assert report.statuses == {"changed": 2} and report.alerts == 4
        assert sorted(new_alerts(seen)) == sorted(
            [
                (ada, "price_drop", "target_reached", "89.99"),
                (bob, "price_drop", "target_reached", "89.99"),
                (ada, "restock", "restock", "56.74"),
                (bob, "restock", "restock", "56.74"),
            ]
        )
        seen += 4

        # Noise-sized and small moves: history only.
        shop.set_price("/shelf", D("89.49"))
        await cycle()
        assert new_alerts(seen) == []

        # A further drop of more than 5 % alerts both shelf watchers again.
        shop.set_price("/shelf", D("84.00"))
        await cycle()
        assert sorted(new_alerts(seen)) == sorted(
            [(ada, "price_drop", "further_drop", "84.00"), (bob, "price_drop", "further_drop", "84.00")]
        )
        seen += 2

        # The glass sells out and comes back: both stock rules are fulfilled, nobody is told twice.
        shop.set_availability("/glass", "OutOfStock")
        await cycle()
        shop.set_availability("/glass", "InStock")
        await cycle()
        assert new_alerts(seen) == []

        # Bob's price rule on the glass still works on its own.
        shop.set_price("/glass", D("45"))
        await cycle()
        assert new_alerts(seen) == [(bob, "price_drop", "target_reached", "45.00")]
        seen += 1

        # The shop fails: no history, no alerts, and after two failures the watchers see why.
        shop.set_status("/shelf", 503)
        await cycle()
        await cycle()
        shelf_view = next(v for v in list_watches(ada) if v.product_id == shelf)
        assert shelf_view.failing and "503" in (shelf_view.last_error or "")
        assert new_alerts(seen) == []

        # Back with the same price: a successful check clears the failure, still no alert.
        shop.set_status("/shelf", None)
        await cycle()
        assert not next(v for v in list_watches(ada) if v.product_id == shelf).failing
        assert new_alerts(seen) == []

        # A second cycle over an unchanged state writes nothing new (idempotent).
        await cycle()
        assert new_alerts(seen) == []
        await close_clients()

    assert points(shelf) == [
        (D("99.95"), "in_stock"),
        (D("89.99"), "in_stock"),
        (D("89.49"), "in_stock"),
        (D("84"), "in_stock"),
    ]
    assert points(glass) == [
        (D("56.74"), "out_of_stock"),
        (D("56.74"), "in_stock"),
        (D("56.74"), "out_of_stock"),
        (D("56.74"), "in_stock"),
        (D("45"), "in_stock"),
    ]
    drop = next(e for e in alert_events(ada) if e.kind == "price_drop")
    assert drop.facts["title"] == "Massivholz-Waschmaschinenregal"
    assert drop.facts["currency"] == "EUR"
    assert drop.facts["previous_price"] == "99.95"
    assert drop.facts["target_price"] == "90.00"
    assert drop.facts["lowest_ever"] == "89.99"
    assert drop.dedupe_key == f"watch:{ada_shelf.watch_id}:price_drop:1"
