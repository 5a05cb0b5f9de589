"""`bench history`: the size of a year of history and the time of the queries charts make.

Products get a year of daily points (with price and stock changes on some days), written
straight to a fresh database as the checker would have written them. Then, for a random
sample of products, the product page's queries are timed: the chart series over 30, 90 and
365 days (downsampled to ≤ 500 points) and the statistics over all of the history.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from benchmarks.checks import bench_database, database_mb, use_database
from benchmarks.seed import price_walk
from cloudtrack_app import db as dbmod
from cloudtrack_app.models import PricePoint, Product, utcnow
from cloudtrack_app.tracking.history import points_query, price_history, product_stats

INSERT_CHUNK = 500  # products per transaction
CHART_RANGES = (30, 90, 365)


def _seed(products: int, days: int, rng: random.Random) -> list[int]:
    engine = dbmod.get_engine()
    now = utcnow()
    start = now - timedelta(days=days)
    product_ids: list[int] = []
    for first in range(0, products, INSERT_CHUNK):
        numbers = range(first, min(products, first + INSERT_CHUNK))
        walks = [price_walk(rng, Decimal(rng.randrange(1500, 90000)) / 100, days) for _ in numbers]
        with engine.begin() as connection:
            ids = connection.execute(
                sa.insert(Product).returning(Product.id, sort_by_parameter_order=True),
                [
                    {
                        "url": f"https://shop{number % 50}.example/p/{number}",
                        "shop_domain": f"shop{number % 50}.example",
                        "title": f"Product {number}",
                        "currency": "EUR",
                        "last_price": walk[-1][1],
                        "last_availability": walk[-1][2],
                        "created_at": start,
                        "last_checked_at": now,
                        "next_check_at": now + timedelta(days=365),
                        "consecutive_failures": 0,
                        "failing": False,
                    }
                    for number, walk in zip(numbers, walks, strict=True)
                ],
            )
            chunk_ids = [row[0] for row in ids]
            connection.execute(
                sa.insert(PricePoint),
                [
                    {
                        "product_id": product_id,
                        "checked_at": start + timedelta(days=day, hours=9),
                        "price": price,
                        "currency": "EUR",
                        "availability": availability,
                    }
                    for product_id, walk in zip(chunk_ids, walks, strict=True)
                    for day, price, availability in walk
                ],
            )
        product_ids += chunk_ids
    return product_ids


def _timed(action: Callable[[int], object], product_ids: list[int]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds, of `action` over `product_ids`."""
    times = []
    for product_id in product_ids:
        started = time.perf_counter()
        action(product_id)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def _plan(product_id: int) -> str:
    """What the database does for a 90-day chart query."""
    engine = dbmod.get_engine()
    query = points_query(product_id, utcnow() - timedelta(days=90))
    compiled = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN" if dbmod.is_sqlite(engine) else "EXPLAIN"
    with engine.connect() as connection:
        rows = connection.execute(sa.text(f"{explain} {compiled}")).all()
    return " | ".join(str(row[-1]) for row in rows)


def run(products: int, days: int, samples: int, database_url: str | None) -> list[str]:
    rng = random.Random(11)
    with bench_database(database_url) as url:
        use_database(url)
        started = time.perf_counter()
        product_ids = _seed(products, days, rng)
        seeded = time.perf_counter() - started
        with dbmod.get_engine().connect() as connection:
            rows = connection.execute(sa.select(sa.func.count()).select_from(PricePoint)).scalar_one()
        with dbmod.get_engine().connect() as connection:
            if dbmod.is_sqlite(url):  # the data's size, not that of the log the seeding left
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:  # as autovacuum would after such an insert, so the planner knows the table
                connection.exec_driver_sql("ANALYZE price_points")
                connection.commit()
        size = database_mb(url)
        sample = rng.sample(product_ids, min(samples, len(product_ids)))
        for product_id in sample[:10]:  # warm the caches a user's first click would warm
            price_history(product_id, 90)
        lines = [
            f"history: {products} products × {days} days = {rows} price points "
            f"({'sqlite' if dbmod.is_sqlite(url) else 'postgresql'}), written in {seeded:.0f} s",
            f"database size: {size:.0f} MB ({size * 1e6 / max(1, rows):.0f} bytes per point, indexes included)",
        ]
        for days_shown in CHART_RANGES:
            median, p95 = _timed(lambda pid, d=days_shown: price_history(pid, d), sample)
            lines.append(
                f"chart {days_shown} days (≤ 500 points): median {median:.1f} ms, p95 {p95:.1f} ms"
                f" over {len(sample)} products"
            )
        median, p95 = _timed(lambda pid: product_stats(pid), sample)
        lines.append(f"statistics over all history: median {median:.1f} ms, p95 {p95:.1f} ms")
        lines.append(f"plan of a chart query: {_plan(sample[0])}")
        dbmod.dispose_engines()
    return lines
