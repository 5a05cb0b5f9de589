"""Price history for charts and statistics for alerts: exact, small, and downsampled honestly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from cloudtrack_app.db import get_engine, is_sqlite, session_scope
from cloudtrack_app.models import PricePoint, Product
from cloudtrack_app.tracking.history import (
    HistoryPoint,
    downsample,
    needs_point,
    points_query,
    price_history,
    product_stats,
)
from cloudtrack_app.tracking.rules import Observation
from tests.engine_fixtures import make_user, seed_products

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
D = Decimal


def point(days_ago: float, price: str | None, availability: str = "in_stock") -> HistoryPoint:
    return HistoryPoint(NOW - timedelta(days=days_ago), D(price) if price else None, "EUR", availability)


def test_a_point_on_every_change_and_on_the_first_check_of_each_day() -> None:
    same = Observation(D("10"), "EUR", "in_stock")
    morning = NOW.replace(hour=6)
    assert needs_point(None, None, same, NOW)
    assert needs_point(same, morning, Observation(D("9.99"), "EUR", "in_stock"), NOW)
    assert needs_point(same, morning, Observation(D("10"), "EUR", "out_of_stock"), NOW)
    assert not needs_point(same, morning, Observation(D("10.00"), "EUR", "in_stock"), NOW)
    assert needs_point(same, morning - timedelta(days=1), same, NOW)


def test_downsampling_keeps_drops_spikes_and_stock_changes() -> None:
    series = [point(365 - n / 4, "100") for n in range(1460)]  # four checks a day for a year
    series[700] = point(365 - 700 / 4, "60")  # a one-check flash sale
    series[900] = point(365 - 900 / 4, "140")
    series[1200] = point(365 - 1200 / 4, "100", "out_of_stock")
    kept = downsample(series, 500)
    assert len(kept) <= 500
    prices = [p.price for p in kept]
    assert D("60") in prices and D("140") in prices
    assert any(p.availability == "out_of_stock" for p in kept)
    assert kept[0] == series[0] and kept[-1] == series[-1]
    assert kept == sorted(kept, key=lambda p: p.at)
    assert downsample(series[:300], 500) == series[:300]


def test_downsampling_never_exceeds_the_limit_even_with_many_stock_changes() -> None:
    series = [point(100 - n / 10, "5", "in_stock" if n % 2 else "out_of_stock") for n in range(1000)]
    assert len(downsample(series, 100)) == 100


def _insert_points(product_id: int, rows: list[tuple[datetime, str | None, str]]) -> None:
    with session_scope() as session:
        for at, price, availability in rows:
            session.add(
                PricePoint(
                    product_id=product_id,
                    checked_at=at,
                    price=D(price) if price else None,
                    currency="EUR",
                    availability=availability,
                )
            )


def _set_current(product_id: int, price: str) -> None:
    with session_scope() as session:
        product = session.get(Product, product_id)
        assert product is not None
        product.last_price, product.currency, product.last_checked_at = D(price), "EUR", NOW
        session.add(product)


def test_chart_series_for_30_and_365_days(db_url: str) -> None:
    (product_id,) = seed_products(["https://shop.example/p"], make_user())
    _insert_points(
        product_id,
        [(NOW - timedelta(days=200), "120", "in_stock"), (NOW - timedelta(days=40), "100", "in_stock")]
        + [(NOW - timedelta(days=d), "90" if d % 2 else "95", "in_stock") for d in range(20, 0, -1)],
    )
    month = price_history(product_id, 30, now=NOW)
    assert month[0].at == NOW - timedelta(days=30) and month[0].price == D("100")  # the price in effect then
    assert len(month) == 21
    year = price_history(product_id, 365, now=NOW)
    assert [p.price for p in year[:2]] == [D("120"), D("100")]
    assert len(price_history(product_id, None, max_points=10, now=NOW)) <= 10


def test_statistics_are_time_weighted_and_spot_a_good_deal(db_url: str) -> None:
    (product_id,) = seed_products(["https://shop.example/p"], make_user())
    _insert_points(
        product_id,
        [
            (NOW - timedelta(days=100), "80", "in_stock"),  # the lowest ever, long ago
            (NOW - timedelta(days=60), "100", "in_stock"),
            (NOW - timedelta(days=10), "120", "in_stock"),
            (NOW - timedelta(days=5), None, "unknown"),  # a failed read: no price, not a drop
            (NOW - timedelta(days=4), "83", "in_stock"),
        ],
    )
    _set_current(product_id, "83")
    stats = product_stats(product_id, now=NOW)
    assert stats.current_price == D("83")
    assert (stats.all_time.lowest, stats.all_time.highest) == (D("80"), D("120"))
    assert stats.lowest_ever_at == NOW - timedelta(days=100)
    assert (stats.last_30_days.lowest, stats.last_30_days.highest) == (D("83"), D("120"))
    # 30 days: 100 for 20 days, 120 for 5, (1 day unknown), 83 for 4 → (2000 + 600 + 332) / 29
    assert stats.last_30_days.average == D("101.10")
    assert stats.last_90_days.lowest == D("80")  # the price in effect 90 days ago counts
    assert stats.good_deal  # 83 is within 5 % of 80, with 100 days of history

    _set_current(product_id, "85")
    assert not product_stats(product_id, now=NOW).good_deal


def test_no_good_deal_without_four_weeks_of_history(db_url: str) -> None:
    (product_id,) = seed_products(["https://shop.example/p"], make_user())
    _insert_points(product_id, [(NOW - timedelta(days=20), "50", "in_stock")])
    _set_current(product_id, "50")
    stats = product_stats(product_id, now=NOW)
    assert stats.all_time.lowest == D("50") and not stats.good_deal


def test_chart_queries_use_the_product_time_index(db_url: str) -> None:
    query = points_query(1, NOW - timedelta(days=30))
    engine = get_engine()
    compiled = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if is_sqlite(engine):
            plan = " ".join(str(row) for row in connection.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")))
        else:
            connection.execute(sa.text("SET enable_seqscan = off"))
            plan = " ".join(str(row) for row in connection.execute(sa.text(f"EXPLAIN {compiled}")))
    assert "ix_price_points_product_checked" in plan
