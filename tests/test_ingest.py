"""Adding a watch: preview then confirm, clear refusals with nothing half-saved, and watch management."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
import sqlalchemy as sa

from benchmarks.shop import LocalShop
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AlertEvent, PricePoint, Product, Watch
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.fetch import close_clients
from cloudtrack_app.tracking.ingest import IngestError, add_watch, preview_url
from cloudtrack_app.tracking.watches import (
    WatchNotFound,
    delete_watch,
    edit_watch,
    get_watch,
    list_watches,
    pause_watch,
    rearm_watch,
    resume_watch,
)
from tests.engine_fixtures import (
    EDUSCHO_SHELF,
    OTTO_GLASS,
    alert_events,
    local_shop_settings,
    make_user,
    points,
)

NO_PRICE_PAGE = "zpeb_412fe668a36c6f90"  # a real shop page the extractor finds no price on


@pytest.fixture
async def shop(db_url: str, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch)
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        running.add_corpus_page("/glass", OTTO_GLASS)  # 56.74 EUR
        running.set_availability("/glass", "OutOfStock")
        running.add_corpus_page("/no-price", NO_PRICE_PAGE)
        yield running
    await close_clients()


def table_counts() -> dict[str, int]:
    with session_scope() as session:
        return {
            model.__tablename__: session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in (Product, Watch, PricePoint, AlertEvent)
        }


EMPTY = {"products": 0, "watches": 0, "price_points": 0, "alert_events": 0}


async def test_preview_reads_the_page_and_writes_nothing(shop: LocalShop) -> None:
    preview = await preview_url(shop.url("/shelf?utm_campaign=spring&fbclid=1"))
    assert preview.url == shop.url("/shelf")
    assert (preview.title, preview.price, preview.currency, preview.availability) == (
        "Massivholz-Waschmaschinenregal",
        Decimal("99.95"),
        "EUR",
        "in_stock",
    )
    assert table_counts() == EMPTY


async def test_confirming_a_fresh_preview_does_not_fetch_again(shop: LocalShop) -> None:
    user = make_user()
    preview = await preview_url(shop.url("/shelf"))
    result = await add_watch(user, shop.url("/shelf"), "price", "89.50", preview=preview)
    assert shop.request_count("/shelf") == 1
    assert not result.target_met
    assert "€89.50 or below" in result.message
    assert table_counts() == {"products": 1, "watches": 1, "price_points": 1, "alert_events": 1}
    (confirmation,) = alert_events()
    assert confirmation.kind == "confirmation" and confirmation.user_id == user
    assert confirmation.facts["price"] == "99.95" and confirmation.facts["target_met"] is False


@pytest.mark.parametrize(
    ("path", "mode", "target", "any_drop", "code", "offer", "words"),
    [
        ("/shelf", "stock", None, False, "in_stock_now", "price_watch", "in stock now"),
        ("/shelf", "price", "120", False, "target_above_price", "any_drop", "any price drop"),
        ("/shelf", "price", None, False, "missing_target", "any_drop", "target price"),
        ("/shelf", "price", "abc", False, "invalid_target", None, "as a number"),
        ("/shelf", "price", "-5", False, "invalid_target", None, "above zero"),
        ("/shelf", "stock", "50", False, "invalid_target", "price_watch", "no price target"),
        ("/shelf", "weekly", "50", False, "invalid_mode", None, "price, stock or both"),
        ("/no-price", "price", "10", False, "no_price", None, "No price"),
        ("/missing", "price", "10", False, "unreachable", None, "404"),
    ],
)
async def test_refusals_are_specific_and_save_nothing(
    shop: LocalShop, path: str, mode: str, target: str | None, any_drop: bool, code: str, offer: str | None,
    words: str,
) -> None:  # fmt: skip
    user = make_user()
    with pytest.raises(IngestError) as refused:
        await add_watch(user, shop.url(path), mode, target, any_drop=any_drop)
    assert (refused.value.code, refused.value.offer) == (code, offer)
    assert words in refused.value.message
    assert table_counts() == EMPTY


async def test_unreachable_private_and_malformed_addresses(
    shop: LocalShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(IngestError) as refused:
        await add_watch(user, f"http://127.0.0.1:{closed_port}/p", "price", "10")
    assert refused.value.code == "unreachable"
    with pytest.raises(IngestError) as refused:
        await add_watch(user, "mailto:shop@example.com", "price", "10")
    assert refused.value.code == "invalid_url"

    monkeypatch.setenv("CLOUDTRACK_ALLOW_PRIVATE_URLS", "false")
    get_settings.cache_clear()
    with pytest.raises(IngestError) as refused:
        await add_watch(user, shop.url("/shelf"), "price", "10")
    assert refused.value.code == "blocked_address"
    assert shop.total_requests == 0
    assert table_counts() == EMPTY


async def test_a_duplicate_is_refused_before_fetching(shop: LocalShop) -> None:
    user = make_user()
    await add_watch(user, shop.url("/shelf"), "price", "90")
    with pytest.raises(IngestError) as refused:
        await add_watch(user, shop.url("/shelf?utm_source=x#reviews"), "both", "80")
    assert refused.value.code == "duplicate"
    assert "Massivholz-Waschmaschinenregal" in refused.value.message
    assert shop.request_count("/shelf") == 1


async def test_a_target_already_met_is_said_at_once(shop: LocalShop) -> None:
    user = make_user()
    result = await add_watch(user, shop.url("/shelf"), "price", "99.95")
    assert result.target_met
    assert "already costs €99.95" in result.message
    assert [e.kind for e in alert_events()] == ["confirmation"]
    assert alert_events()[0].facts["target_met"] is True


async def test_stock_and_any_drop_watches(shop: LocalShop) -> None:
    user = make_user()
    stock = await add_watch(user, shop.url("/glass"), "stock", None)
    assert "out of stock now" in stock.message and stock.target_price is None
    drop = await add_watch(user, shop.url("/shelf"), "price", "120", any_drop=True)
    assert drop.target_price is None and "when the price drops" in drop.message
    views = {v.watch_id: v for v in list_watches(user)}
    assert views[drop.watch_id].any_drop and not views[stock.watch_id].any_drop


async def test_a_second_watcher_shares_the_product_and_its_history(shop: LocalShop) -> None:
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    first = await add_watch(ada, shop.url("/shelf"), "price", "90")
    second = await add_watch(bob, shop.url("/shelf"), "price", "95")
    assert first.product_id == second.product_id
    assert points(first.product_id) == [(Decimal("99.95"), "in_stock")]  # unchanged: no second point


async def test_a_target_reached_while_paused_alerts_on_resume(shop: LocalShop) -> None:
    user = make_user()
    added = await add_watch(user, shop.url("/shelf"), "price", "90")
    pause_watch(user, added.watch_id)
    with session_scope() as session:  # a check for another watcher saw the price fall meanwhile
        session.execute(sa.update(Product).values(last_price=Decimal("85")))
    resume_watch(user, added.watch_id)
    assert [(e.kind, e.facts["reason"], e.facts["price"]) for e in alert_events(user)] == [
        ("confirmation", "watch_added", "99.95"),
        ("price_drop", "target_reached", "85.00"),
    ]
    resume_watch(user, added.watch_id)  # resuming an active watch changes nothing
    assert len(alert_events(user)) == 2


async def test_watch_management_checks_ownership(shop: LocalShop) -> None:
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    added = await add_watch(ada, shop.url("/shelf"), "price", "90")
    for operation in (get_watch, pause_watch, resume_watch, delete_watch, rearm_watch):
        with pytest.raises(WatchNotFound):
            operation(bob, added.watch_id)
    with pytest.raises(WatchNotFound):
        edit_watch(bob, added.watch_id, mode="price", target_price="80")

    assert not pause_watch(ada, added.watch_id).active
    assert resume_watch(ada, added.watch_id).active
    edited = edit_watch(ada, added.watch_id, mode="both", target_price="99.95")
    assert edited.target_met and edited.watch.mode == "both"
    with pytest.raises(IngestError) as refused:
        edit_watch(ada, added.watch_id, mode="price", target_price="150")
    assert refused.value.code == "target_above_price"

    delete_watch(ada, added.watch_id)
    assert list_watches(ada) == []
    assert alert_events(ada) == []  # its queued confirmation went with it
    with session_scope() as session:
        assert session.get(Product, added.product_id) is not None  # the shared product stays
