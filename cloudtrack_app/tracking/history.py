"""Price history: when to write a point, chart series, and per-product statistics.

A `PricePoint` is written on every change of price, currency or availability and on the
first check of each UTC day, so a chart drawn as steps between points is exact and the
table grows by a few rows per product per day at most.

A watch with a picked price has its own series (`PickPoint`, named by its selector's key);
every function here reads the automatic series unless given a `selector_key`.

Averages are time-weighted: each price counts for as long as it was on the page (from its
point to the next one, the last one until now), clipped to the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import PickPoint, PricePoint, Product, utcnow
from cloudtrack_app.tracking.rules import Observation

DEFAULT_MAX_POINTS = 500
GOOD_DEAL_MARGIN = Decimal("0.05")
GOOD_DEAL_MIN_HISTORY = timedelta(days=28)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class HistoryPoint:
    at: datetime
    price: Decimal | None
    currency: str | None
    availability: str


@dataclass(frozen=True)
class PriceWindow:
    lowest: Decimal | None
    highest: Decimal | None
    average: Decimal | None  # time-weighted, rounded to the cent


@dataclass(frozen=True)
class ProductStats:
    product_id: int
    currency: str | None
    current_price: Decimal | None
    availability: str
    last_checked_at: datetime | None
    last_30_days: PriceWindow
    last_90_days: PriceWindow
    all_time: PriceWindow
    lowest_ever_at: datetime | None  # the latest time the all-time lowest price was seen
    first_seen_at: datetime | None
    good_deal: bool  # within 5 % of the lowest recorded price, with at least 4 weeks of history


class ProductNotFound(LookupError):
    pass


def needs_point(
    previous: Observation | None, previous_check_at: datetime | None, current: Observation, now: datetime
) -> bool:
    """Whether this observation must be written to the history.

    `previous_check_at` is the last successful check before this one: every successful
    check that is the first of its UTC day writes a point, so one exists for each day.
    """
    if previous is None or previous_check_at is None or previous != current:
        return True
    return previous_check_at.date() < now.date()


_POINT_COLUMNS = (PricePoint.checked_at, PricePoint.price, PricePoint.currency, PricePoint.availability)
_PICK_COLUMNS = (PickPoint.checked_at, PickPoint.price, PickPoint.currency, PickPoint.availability)


def _series(product_id: int, selector_key: str | None) -> sa.Select[Any]:
    """All points of one series of the product: the automatic one, or a picked element's."""
    if selector_key is None:
        return sa.select(*_POINT_COLUMNS).where(PricePoint.product_id == product_id)
    return sa.select(*_PICK_COLUMNS).where(
        PickPoint.product_id == product_id, PickPoint.selector_key == selector_key
    )


def points_query(product_id: int, since: datetime | None, selector_key: str | None = None) -> sa.Select[Any]:
    """The series' points from `since` on, in time order (served by the product/time index)."""
    checked_at = _POINT_COLUMNS[0] if selector_key is None else _PICK_COLUMNS[0]
    query = _series(product_id, selector_key)
    if since is not None:
        query = query.where(checked_at >= since)
    return query.order_by(checked_at)


def last_point(session: Session, product_id: int, selector_key: str | None = None) -> HistoryPoint | None:
    """The series' latest point: what it showed at its last change (or daily point)."""
    checked_at = _POINT_COLUMNS[0] if selector_key is None else _PICK_COLUMNS[0]
    row = session.execute(_series(product_id, selector_key).order_by(checked_at.desc()).limit(1)).first()
    return HistoryPoint(*row) if row else None


def _points(
    session: Session, product_id: int, since: datetime | None, selector_key: str | None = None
) -> list[HistoryPoint]:
    """Points from `since` on, preceded by the one in effect at `since` (if any)."""
    head: list[HistoryPoint] = []
    if since is not None:
        checked_at = _POINT_COLUMNS[0] if selector_key is None else _PICK_COLUMNS[0]
        before = (
            _series(product_id, selector_key).where(checked_at < since).order_by(checked_at.desc()).limit(1)
        )
        head = [HistoryPoint(*row) for row in session.execute(before)]
    query = points_query(product_id, since, selector_key)
    return head + [HistoryPoint(*row) for row in session.execute(query)]


def downsample(points: Sequence[HistoryPoint], max_points: int = DEFAULT_MAX_POINTS) -> list[HistoryPoint]:
    """At most `max_points`, keeping each time bucket's lowest and highest price and every
    availability change, plus the first and last point."""
    if len(points) <= max_points:
        return list(points)
    if max_points < 2:
        return list(points[-max_points:]) if max_points else []
    buckets = max_points // 2
    kept = _bucket_extremes(points, buckets)
    while len(kept) > max_points and buckets > 1:
        buckets = max(1, buckets * max_points // len(kept) - 1)
        kept = _bucket_extremes(points, buckets)
    if len(kept) > max_points:  # more availability changes than points allowed
        stride = len(kept) / (max_points - 1)
        kept = [kept[int(i * stride)] for i in range(max_points - 1)] + [kept[-1]]
    return kept


def _bucket_extremes(points: Sequence[HistoryPoint], buckets: int) -> list[HistoryPoint]:
    start, end = points[0].at, points[-1].at
    span = (end - start).total_seconds() or 1.0
    keep = {0, len(points) - 1}
    low: dict[int, int] = {}
    high: dict[int, int] = {}
    for index, point in enumerate(points):
        if index and point.availability != points[index - 1].availability:
            keep.add(index)
        if point.price is None:
            if index and points[index - 1].price is not None:
                keep.add(index)
            continue
        bucket = min(buckets - 1, int((point.at - start).total_seconds() / span * buckets))
        if bucket not in low or point.price < points[low[bucket]].price:  # type: ignore[operator]
            low[bucket] = index
        if bucket not in high or point.price > points[high[bucket]].price:  # type: ignore[operator]
            high[bucket] = index
    keep.update(low.values())
    keep.update(high.values())
    return [points[index] for index in sorted(keep)]


def price_history(
    product_id: int,
    days: int | None,
    max_points: int = DEFAULT_MAX_POINTS,
    *,
    now: datetime | None = None,
    selector_key: str | None = None,
) -> list[HistoryPoint]:
    """The product's history over the last `days` (None: all of it), ready for a chart."""
    now = now or utcnow()
    since = now - timedelta(days=days) if days is not None else None
    with session_scope() as session:
        points = _points(session, product_id, since, selector_key)
    if since is not None and points and points[0].at < since:
        first = points[0]
        points[0] = HistoryPoint(since, first.price, first.currency, first.availability)
    return downsample(points, max_points)


def _window(points: Sequence[HistoryPoint], since: datetime | None, now: datetime) -> PriceWindow:
    prices: list[Decimal] = []
    weighted = Decimal(0)
    total = Decimal(0)
    for index, point in enumerate(points):
        until = points[index + 1].at if index + 1 < len(points) else now
        if since is not None and until <= since:
            continue
        if point.price is None:
            continue
        prices.append(point.price)
        begin = max(point.at, since) if since else point.at
        seconds = Decimal(str(max(0.0, (until - begin).total_seconds())))
        weighted += point.price * seconds
        total += seconds
    if not prices:
        return PriceWindow(None, None, None)
    average = (weighted / total) if total else prices[-1]
    return PriceWindow(min(prices), max(prices), average.quantize(CENT))


def compute_stats(
    product_id: int,
    points: Sequence[HistoryPoint],
    *,
    currency: str | None,
    current_price: Decimal | None,
    availability: str,
    last_checked_at: datetime | None,
    now: datetime,
) -> ProductStats:
    """Statistics over `points` (ordered by time) in the product's current currency."""
    same = [p for p in points if currency is None or p.currency in (None, currency)]
    all_time = _window(same, None, now)
    lowest_at = None
    if all_time.lowest is not None:
        lowest_at = max(p.at for p in same if p.price == all_time.lowest)
    first_seen = same[0].at if same else None
    good_deal = bool(
        current_price is not None
        and all_time.lowest is not None
        and first_seen is not None
        and now - first_seen >= GOOD_DEAL_MIN_HISTORY
        and current_price <= all_time.lowest * (1 + GOOD_DEAL_MARGIN)
    )
    return ProductStats(
        product_id=product_id,
        currency=currency,
        current_price=current_price,
        availability=availability,
        last_checked_at=last_checked_at,
        last_30_days=_window(same, now - timedelta(days=30), now),
        last_90_days=_window(same, now - timedelta(days=90), now),
        all_time=all_time,
        lowest_ever_at=lowest_at,
        first_seen_at=first_seen,
        good_deal=good_deal,
    )


def stats_in_session(
    session: Session,
    product: Product,
    now: datetime | None = None,
    *,
    selector_key: str | None = None,
    current: Observation | None = None,
) -> ProductStats:
    """Statistics of the product's automatic series, or of a picked element's (`selector_key`,
    with `current` what the watch sees now)."""
    now = now or utcnow()
    assert product.id is not None
    return compute_stats(
        product.id,
        _points(session, product.id, None, selector_key),
        currency=(current.currency if current else None) or product.currency,
        current_price=current.price if current else product.last_price,
        availability=product.last_availability,
        last_checked_at=product.last_checked_at,
        now=now,
    )


def product_stats(
    product_id: int,
    *,
    now: datetime | None = None,
    selector_key: str | None = None,
    current: Observation | None = None,
) -> ProductStats:
    """Current, lowest, highest and average prices over 30 and 90 days and all time (of the
    automatic series, or of a picked element's: see `stats_in_session`)."""
    with session_scope() as session:
        product = session.get(Product, product_id)
        if product is None:
            raise ProductNotFound(f"No product with id {product_id}.")
        return stats_in_session(session, product, now, selector_key=selector_key, current=current)
