"""What a product's page shows to the user who watches it: details and statistics, the
chart series, the alert history and the CSV export. Every function takes the user's id
and answers `WatchNotFound` for a product that user does not watch.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from babel.dates import format_datetime
from sqlmodel import select

from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import ago_text, format_money
from cloudtrack_app.models import (
    AlertDelivery,
    AlertEvent,
    Availability,
    PricePoint,
    Product,
    Watch,
    utcnow,
)
from cloudtrack_app.tracking.history import PriceWindow, price_history, stats_in_session
from cloudtrack_app.tracking.images import product_image_path
from cloudtrack_app.tracking.watches import WatchNotFound, WatchView, get_watch
from cloudtrack_app.views.dashboard import target_text
from cloudtrack_app.views.viewer import Viewer, local_time, viewer

CHART_RANGES = {"30": 30, "90": 90, "365": 365, "all": None}
ALERT_HISTORY_LIMIT = 50
KIND_LABELS = {
    "confirmation": "Watch started",
    "price_drop": "Price alert",
    "restock": "Back in stock",
    "test": "Test alert",
}


@dataclass(frozen=True)
class StatLine:
    period: str
    lowest: str
    highest: str
    average: str


@dataclass(frozen=True)
class ProductDetail:
    watch_id: int
    product_id: int
    title: str
    image: str  # CloudTrack's own address of the image (never the shop's), "" for none
    shop: str
    url: str
    mode: str
    target_input: str  # the target as typed in the edit form ("" for none)
    target_text: str
    any_drop: bool
    active: bool
    fulfilled: bool
    price_text: str
    availability: str
    failing: bool
    error: str
    checked_text: str
    lowest_ever_text: str
    lowest_ever_when: str
    good_deal: bool
    stats: list[StatLine]


@dataclass(frozen=True)
class AlertLine:
    when: str
    kind: str
    channels: str  # e.g. "email: sent · telegram: failed"
    status: str
    subject: str
    body: str
    error: str


def owned_watch(user_id: int, product_id: int) -> WatchView:
    with session_scope() as session:
        watch_id = session.exec(
            select(Watch.id).where(Watch.user_id == user_id, Watch.product_id == product_id)
        ).first()
    if watch_id is None:
        raise WatchNotFound
    return get_watch(user_id, watch_id)


def _stat_line(period: str, window: PriceWindow, currency: str | None, locale: str) -> StatLine:
    return StatLine(
        period=period,
        lowest=format_money(window.lowest, currency, locale),
        highest=format_money(window.highest, currency, locale),
        average=format_money(window.average, currency, locale),
    )


@dataclass(frozen=True)
class ProductView:
    detail: ProductDetail
    chart: list[dict[str, str | float | None]]
    chart_target: str
    alerts: list[AlertLine]


def product_view(user_id: int, product_id: int, range_key: str) -> ProductView:
    """Everything the product page shows, with one ownership check."""
    view = owned_watch(user_id, product_id)
    who = viewer(user_id)
    chart, target = _chart(view, who, range_key)
    return ProductView(_detail(view, who), chart, target, _alerts(view, who, user_id))


def _detail(view: WatchView, who: Viewer) -> ProductDetail:
    product_id = view.product_id
    now = utcnow()
    with session_scope() as session:
        product = session.get(Product, product_id)
        assert product is not None
        stats = stats_in_session(session, product, now)
    currency = view.currency
    return ProductDetail(
        watch_id=view.watch_id,
        product_id=view.product_id,
        title=view.title or view.url,
        image=product_image_path(view.product_id, view.image),
        shop=view.shop,
        url=view.url,
        mode=view.mode,
        target_input="" if view.target_price is None else f"{view.target_price.normalize():f}",
        target_text=target_text(view, who.locale),
        any_drop=view.any_drop,
        active=view.active,
        fulfilled=view.fulfilled,
        price_text=format_money(view.price, currency, who.locale),
        availability=view.availability,
        failing=view.failing,
        error=view.last_error or "",
        checked_text=ago_text(view.last_checked_at, now, who.locale),
        lowest_ever_text=format_money(stats.all_time.lowest, currency, who.locale),
        lowest_ever_when=local_time(stats.lowest_ever_at, who),
        good_deal=stats.good_deal,
        stats=[
            _stat_line("30 days", stats.last_30_days, currency, who.locale),
            _stat_line("90 days", stats.last_90_days, currency, who.locale),
            _stat_line("All time", stats.all_time, currency, who.locale),
        ],
    )


def chart_series(
    user_id: int, product_id: int, range_key: str
) -> tuple[list[dict[str, str | float | None]], str]:
    """Points for the chart (≤ 500) and the target price line, if any.

    Each point has `price` (None while unknown) and `unavailable`, the price level drawn
    in red while the item was out of stock, so those periods stand out on the chart.
    """
    return _chart(owned_watch(user_id, product_id), viewer(user_id), range_key)


def _chart(view: WatchView, who: Viewer, range_key: str) -> tuple[list[dict[str, str | float | None]], str]:
    points = price_history(view.product_id, CHART_RANGES.get(range_key, 90))
    series: list[dict[str, str | float | None]] = []
    last_price: Decimal | None = None
    for point in points:
        last_price = point.price if point.price is not None else last_price
        out = point.availability == Availability.OUT_OF_STOCK
        series.append(
            {
                "date": format_datetime(point.at, "d MMM yy", tzinfo=who.timezone, locale=who.locale),
                "price": float(point.price) if point.price is not None else None,
                "unavailable": float(last_price) if out and last_price is not None else None,
            }
        )
    target = f"{view.target_price:f}" if view.target_price is not None and view.mode != "stock" else ""
    return series, target


def _alerts(view: WatchView, who: Viewer, user_id: int) -> list[AlertLine]:
    with session_scope() as session:
        events = session.exec(
            select(AlertEvent)
            .where(AlertEvent.watch_id == view.watch_id, AlertEvent.user_id == user_id)
            .order_by(AlertEvent.created_at.desc(), AlertEvent.id.desc())
            .limit(ALERT_HISTORY_LIMIT)
        ).all()
        ids = [event.id for event in events]
        deliveries = (
            session.exec(select(AlertDelivery).where(AlertDelivery.event_id.in_(ids))).all() if ids else []
        )
    by_event: dict[int, list[AlertDelivery]] = {}
    for delivery in deliveries:
        by_event.setdefault(delivery.event_id, []).append(delivery)
    lines = []
    for event in events:
        sent = sorted(by_event.get(event.id or 0, []), key=lambda d: d.channel)
        channels = " · ".join(f"{d.channel}: {d.status}" for d in sent) or "shown in the app"
        errors = "; ".join(f"{d.channel}: {d.error}" for d in sent if d.error)
        lines.append(
            AlertLine(
                when=local_time(event.created_at, who),
                kind=KIND_LABELS.get(event.kind, event.kind),
                channels=channels,
                status=event.status,
                subject=event.subject or "",
                body=event.body or "",
                error=errors,
            )
        )
    return lines


def history_csv(user_id: int, product_id: int) -> str:
    """Every recorded point of the product, oldest first, as CSV."""
    owned_watch(user_id, product_id)
    with session_scope() as session:
        points = session.exec(
            select(PricePoint).where(PricePoint.product_id == product_id).order_by(PricePoint.checked_at)
        ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["checked_at_utc", "price", "currency", "availability"])
    for point in points:
        price = "" if point.price is None else f"{point.price.normalize():f}"
        writer.writerow([point.checked_at.isoformat(), price, point.currency or "", point.availability])
    return out.getvalue()
