"""A shop's "was" price from the page to the product page and the alert, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from benchmarks.shop import LocalShop
from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import day_text
from cloudtrack_app.models import PricePoint, Product, utcnow
from cloudtrack_app.notify.dispatch import dispatch_pending
from cloudtrack_app.tracking.checker import Checker
from cloudtrack_app.tracking.ingest import add_watch
from cloudtrack_app.views.product import product_view
from tests.engine_fixtures import alert_events, local_shop_settings, make_due
from tests.notify_fixtures import Stubs, make_user
from tests.notify_fixtures import stubs_fixture as stubs_fixture


def kettle_page(price: str, listed: str | None = None) -> str:
    offer: dict[str, object] = {"@type": "Offer", "price": price, "priceCurrency": "EUR"}
    if listed:
        offer["priceSpecification"] = {
            "@type": "UnitPriceSpecification",
            "priceType": "https://schema.org/ListPrice",
            "price": listed,
            "priceCurrency": "EUR",
        }
    data = {"@context": "https://schema.org", "@type": "Product", "name": "Kettle 42", "offers": offer}
    shown = f"<del>{listed} €</del> " if listed else ""
    return (
        f'<html lang="en"><head><script type="application/ld+json">{json.dumps(data)}</script></head>'
        f'<body><div class="product"><h1>Kettle 42</h1>{shown}<span class="price">{price} €</span>'
        "<button>Add to cart</button></div></body></html>"
    )


def stored(product_id: int) -> tuple[Product, list[PricePoint]]:
    with session_scope() as session:
        product = session.get(Product, product_id)
        assert product is not None
        session.expunge(product)
        query = select(PricePoint).where(PricePoint.product_id == product_id).order_by(PricePoint.checked_at)
        points = list(session.exec(query).all())
        for point in points:
            session.expunge(point)
        return product, points


async def test_a_claimed_discount_is_stored_and_checked_on_the_product_page_and_in_the_alert(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop() as shop:
        url = shop.add_page("/kettle", kettle_page("199.00"))
        user = make_user(ai_text=False)
        assert user.id is not None
        added = await add_watch(user.id, url, "price", None, any_drop=True)
        product_id = added.product_id

        # Twenty days of history: 199 €, for four days 129 €, then 199 € again.
        now = utcnow()
        sold_cheaper_at = now - timedelta(days=12)
        with session_scope() as session:
            first = session.exec(select(PricePoint).where(PricePoint.product_id == product_id)).one()
            first.checked_at = now - timedelta(days=20)
            session.add(first)
            for moment, price in ((sold_cheaper_at, "129.00"), (now - timedelta(days=8), "199.00")):
                session.add(
                    PricePoint(
                        product_id=product_id,
                        checked_at=moment,
                        price=Decimal(price),
                        currency="EUR",
                        availability="in_stock",
                    )
                )

        shop.set_html("/kettle", kettle_page("119.40", listed="199.00"))
        make_due()
        report = await Checker().run_cycle()
        assert report.statuses == {"changed": 1}

    product, points = stored(product_id)
    assert (product.last_price, product.last_was_price) == (Decimal("119.40"), Decimal("199.00"))
    assert (points[-1].price, points[-1].was_price) == (Decimal("119.40"), Decimal("199.00"))
    assert points[0].was_price is None

    verdict = (
        f"The shop says −40% from €199.00; it sold for €129.00 on {day_text(sold_cheaper_at, 'en')}."
        " From that price, today's is −7%. (CloudTrack's history covers 20 days, not the full 30.)"
    )
    detail = product_view(user.id, product_id, "30").detail
    assert (detail.deal_text, detail.deal_overstated) == (verdict, True)

    drop = next(e for e in alert_events() if e.kind == "price_drop")
    assert drop.facts["was_price"] == "199.00" and drop.facts["deal"] == "overstated"
    assert (drop.facts["deal_reference"], drop.facts["deal_history_days"]) == ("129.00", 20)

    await dispatch_pending(utcnow())
    mail = next(e for e in stubs.resend.emails if e["subject"].startswith("Price drop"))
    assert verdict in mail["text"]
    assert "Shop's discount: −40% from €199.00, overstated: it sold for €129.00" in mail["text"]


async def test_a_page_without_a_claim_shows_no_verdict(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop() as shop:
        url = shop.add_page("/kettle", kettle_page("199.00"))
        user = make_user(ai_text=False)
        assert user.id is not None
        added = await add_watch(user.id, url, "price", None, any_drop=True)
    product, _ = stored(added.product_id)
    assert product.last_was_price is None
    detail = product_view(user.id, added.product_id, "30").detail
    assert (detail.deal_text, detail.deal_overstated) == ("", False)


async def test_a_new_watch_on_a_page_with_a_claim_stores_it_and_says_it_cannot_check_it_yet(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop() as shop:
        url = shop.add_page("/kettle", kettle_page("119.40", listed="199.00"))
        user = make_user(ai_text=False)
        assert user.id is not None
        added = await add_watch(user.id, url, "price", None, any_drop=True)
    product, points = stored(added.product_id)
    assert (product.last_was_price, points[0].was_price) == (Decimal("199.00"), Decimal("199.00"))
    detail = product_view(user.id, added.product_id, "30").detail
    assert detail.deal_text == (
        "The shop says −40% from €199.00; CloudTrack has no earlier prices to check that against yet."
    )
    confirmation = next(e for e in alert_events() if e.kind == "confirmation")
    assert confirmation.facts["deal"] == "no_history"


async def test_a_new_claim_alone_is_stored_with_a_reading_but_alerts_no_one(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_shop_settings(monkeypatch)
    with LocalShop() as shop:
        url = shop.add_page("/kettle", kettle_page("119.40", listed="199.00"))
        user = make_user(ai_text=False)
        assert user.id is not None
        added = await add_watch(user.id, url, "price", None, any_drop=True)
        shop.set_html("/kettle", kettle_page("119.40", listed="249.00"))
        make_due()
        report = await Checker().run_cycle()
    assert report.statuses == {"unchanged": 1} and report.alerts == 0
    product, points = stored(added.product_id)
    assert product.last_was_price == Decimal("249.00")
    assert [(p.price, p.was_price) for p in points] == [
        (Decimal("119.40"), Decimal("199.00")),
        (Decimal("119.40"), Decimal("249.00")),
    ]
    assert [e.kind for e in alert_events()] == ["confirmation"]
