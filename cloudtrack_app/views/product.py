"""What a product's page shows to the user who watches it: details and statistics, the
chart series, the alert history and the CSV export. Every function takes the user's id
and answers `WatchNotFound` for a product that user does not watch.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from babel.dates import format_skeleton, format_time, format_timedelta
from sqlmodel import select

from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import format_money
from cloudtrack_app.models import (
    AlertDelivery,
    AlertEvent,
    AlertKind,
    Availability,
    Product,
    Watch,
    WatchMode,
    utcnow,
)
from cloudtrack_app.tracking.check_results import CheckOutcome, CheckStatus
from cloudtrack_app.tracking.deals import DealOutcome, deal_in_session, deal_sentence
from cloudtrack_app.tracking.history import HistoryPoint, PriceWindow, price_history, stats_in_session
from cloudtrack_app.tracking.observations import PRICE_PICKED
from cloudtrack_app.tracking.rules import HoldReason
from cloudtrack_app.tracking.second_look import SecondLook
from cloudtrack_app.tracking.watches import WatchNotFound, WatchView, get_watch
from cloudtrack_app.views.summary import WatchSummary, summary_fields
from cloudtrack_app.views.viewer import Viewer, local_time, viewer

CHART_RANGES = {"30": 30, "90": 90, "365": 365, "all": None}
ALERT_HISTORY_LIMIT = 50
AVAILABILITY_WORDS = {Availability.IN_STOCK: "in stock", Availability.OUT_OF_STOCK: "out of stock"}
KIND_LABELS = {
    "confirmation": "Watch started",
    "price_drop": "Price alert",
    "restock": "Back in stock",
    "price_increase": "Price went up",
    "test": "Test alert",
}


@dataclass(frozen=True)
class StatLine:
    period: str
    lowest: str
    highest: str
    average: str


@dataclass(frozen=True)
class ProductDetail(WatchSummary):
    target_input: str  # the target as typed in the edit form ("" for none)
    any_drop: bool
    drop_percent_input: str  # "" for none
    window_input: str  # "30", "90", "365", or "none"
    notify_increase: bool
    fulfilled: bool
    lowest_ever_text: str
    lowest_ever_when: str
    stats: list[StatLine]
    second_look_text: str  # what a held reading's second look found ("" for none)
    deal_text: str = ""  # the verdict on the shop's claimed discount, "" when it claims none
    deal_overstated: bool = False
    picked: bool = False  # the watch follows a price its owner picked on the page
    pick_text: str = ""  # the picked price as last seen ("" for none)
    pick_missing: bool = False  # the picked element is gone: "the page layout changed"


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
class StockBand:
    """A stretch of time the item was out of stock, in chart x units (ms since the epoch)."""

    start: int
    end: int


@dataclass(frozen=True)
class Chart:
    """The price chart, ready to draw: a time axis in ms with its ticks and their labels."""

    points: list[dict[str, str | float | int | None]]  # t, price, when, price_text
    bands: list[StockBand]
    ticks: list[int]
    tick_labels: dict[str, str]  # str(tick) -> label in the user's language and timezone
    domain: list[int]  # [start, end] of the time axis
    target: str  # the target price as a decimal string ("" for none)
    target_label: str  # "Target £400.00"
    dots: bool  # mark each point: with so few, the line alone is too short to see


@dataclass(frozen=True)
class ProductView:
    detail: ProductDetail
    chart: Chart
    alerts: list[AlertLine]


def product_view(user_id: int, product_id: int, range_key: str) -> ProductView:
    """Everything the product page shows, with one ownership check."""
    view = owned_watch(user_id, product_id)
    who = viewer(user_id)
    return ProductView(_detail(view, who), _chart(view, who, range_key), _alerts(view, who, user_id))


def _detail(view: WatchView, who: Viewer) -> ProductDetail:
    product_id = view.product_id
    now = utcnow()
    with session_scope() as session:
        product = session.get(Product, product_id)
        assert product is not None
        stats = stats_in_session(
            session, product, now, selector_key=view.series, current=view.own_observation
        )
        second_look = product.second_look
        deal = deal_in_session(session, product, now)
    currency = view.currency
    return ProductDetail(
        **summary_fields(view, stats.good_deal, who.locale, now),
        target_input="" if view.target_price is None else f"{view.target_price.normalize():f}",
        any_drop=view.any_drop,
        drop_percent_input="" if view.drop_percent is None else f"{view.drop_percent.normalize():f}",
        window_input=str(view.lowest_window_days or "none"),
        notify_increase=view.notify_increase,
        fulfilled=view.fulfilled,
        lowest_ever_text=format_money(stats.all_time.lowest, currency, who.locale),
        lowest_ever_when=local_time(stats.lowest_ever_at, who),
        stats=[
            _stat_line("30 days", stats.last_30_days, currency, who.locale),
            _stat_line("90 days", stats.last_90_days, currency, who.locale),
            _stat_line("All time", stats.all_time, currency, who.locale),
        ],
        second_look_text=second_look_text(SecondLook.from_json(second_look), who.locale),
        deal_text=deal_sentence(deal, who.locale, who.timezone) if deal else "",
        deal_overstated=deal is not None and deal.outcome == DealOutcome.OVERSTATED,
        picked=view.price_selector is not None,
        pick_text=format_money(view.price, currency, who.locale) if view.price_source == PRICE_PICKED else "",
        pick_missing=view.pick_missing,
    )


def second_look_text(look: SecondLook | None, locale: str) -> str:
    """ "A drop from €199.00 to €19.00 looked wrong, so it was checked again 2 minutes later:
    it was not confirmed." ("" when no reading was ever held)."""
    if look is None:
        return ""
    if look.reason == HoldReason.BIG_DROP:
        before = format_money(look.before.price, look.before.currency, locale)
        held = format_money(look.held.price, look.held.currency, locale)
        what = f"A drop from {before} to {held}"
    else:
        what = "Back in stock right after the page changed"
    if look.rechecked_at is None:
        return f"{what} looked wrong, so it is being checked again before anyone is told."
    delay = format_timedelta(look.rechecked_at - look.held_at, locale=locale)
    verdict = "confirmed" if look.confirmed else "it was not confirmed"
    return f"{what} looked wrong, so it was checked again {delay} later: {verdict}."


def chart_series(user_id: int, product_id: int, range_key: str) -> Chart:
    """The chart of the product over `range_key` ("30", "90", "365" or "all")."""
    return _chart(owned_watch(user_id, product_id), viewer(user_id), range_key)


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SHORT_RANGE = timedelta(days=3)  # up to this, times of day matter: ticks and tooltips show them
MAX_TICKS = 6
HOUR_STEPS = (1, 2, 3, 6, 12)
DAY_STEPS = (1, 2, 7, 14)
MONTH_STEPS = (1, 2, 3, 6, 12)
RIGHT_PADDING = 0.04  # of the range: the latest price level stays visible, not a sliver at the edge
MIN_RIGHT_PADDING = timedelta(minutes=30)
MIN_AXIS_SPAN = timedelta(hours=6)
FEW_POINTS = 3


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _when(moment: datetime, span: timedelta, who: Viewer) -> str:
    """A point's moment for its tooltip: with the time of day when the range is short."""
    if span <= SHORT_RANGE:
        day = format_skeleton("MMMd", moment, tzinfo=who.timezone, locale=who.locale)
        return f"{day}, {format_time(moment, 'short', tzinfo=who.timezone, locale=who.locale)}"
    return format_skeleton("yMMMd", moment, tzinfo=who.timezone, locale=who.locale)


def _hour_ticks(start: datetime, end: datetime, hours: int, who: Viewer) -> list[datetime]:
    moment = start.astimezone(who.timezone).replace(minute=0, second=0, microsecond=0)
    ticks = []
    while moment <= end:
        if moment >= start and moment.astimezone(who.timezone).hour % hours == 0:
            ticks.append(moment)
        moment = (moment.astimezone(UTC) + HOUR).astimezone(who.timezone)
    return ticks


def _day_ticks(start: datetime, end: datetime, days: int, who: Viewer) -> list[datetime]:
    day = start.astimezone(who.timezone).date()
    ticks = []
    while True:
        moment = datetime.combine(day, time(), tzinfo=who.timezone)
        if moment > end:
            return ticks
        if moment >= start:
            ticks.append(moment)
        day += timedelta(days=days)


def _month_ticks(start: datetime, end: datetime, months: int, who: Viewer) -> list[datetime]:
    local = start.astimezone(who.timezone)
    index = local.year * 12 + local.month - 1
    index -= index % months
    ticks = []
    while True:
        moment = datetime(index // 12, index % 12 + 1, 1, tzinfo=who.timezone)
        if moment > end:
            return ticks
        if moment >= start:
            ticks.append(moment)
        index += months


def chart_ticks(start: datetime, end: datetime, who: Viewer) -> tuple[list[datetime], list[str]]:
    """At most six ticks on round local times, and their labels: hours for a day, dates for
    weeks, months for years."""
    span = end - start
    for hours in HOUR_STEPS:
        if span / (hours * HOUR) <= MAX_TICKS:
            ticks = _hour_ticks(start, end, hours, who)
            labels = [
                format_skeleton("MMMd", t, tzinfo=who.timezone, locale=who.locale)
                if t.astimezone(who.timezone).hour == 0
                else format_time(t, "short", tzinfo=who.timezone, locale=who.locale)
                for t in ticks
            ]
            return ticks, labels
    for days in DAY_STEPS:
        if span / (days * DAY) <= MAX_TICKS:
            ticks = _day_ticks(start, end, days, who)
            return ticks, [format_skeleton("MMMd", t, tzinfo=who.timezone, locale=who.locale) for t in ticks]
    months = next((m for m in MONTH_STEPS if span / (m * 30.4 * DAY) <= MAX_TICKS), MONTH_STEPS[-1])
    while len(ticks := _month_ticks(start, end, months, who)) > MAX_TICKS:
        months *= 2
    return ticks, [format_skeleton("yMMM", t, tzinfo=who.timezone, locale=who.locale) for t in ticks]


def stock_bands(points: list[HistoryPoint], now: datetime) -> list[tuple[datetime, datetime]]:
    """The periods the item was out of stock: from the first point that said so to the next
    point that did not (or now)."""
    bands: list[tuple[datetime, datetime]] = []
    began: datetime | None = None
    for point in points:
        out = point.availability == Availability.OUT_OF_STOCK
        if out and began is None:
            began = point.at
        elif not out and began is not None:
            bands.append((began, point.at))
            began = None
    if began is not None:
        bands.append((began, max(now, began)))
    return bands


def _chart(view: WatchView, who: Viewer, range_key: str, now: datetime | None = None) -> Chart:
    now = now or utcnow()
    points = price_history(
        view.product_id, CHART_RANGES.get(range_key, 90), now=now, selector_key=view.series
    )
    target = f"{view.target_price:f}" if view.target_price is not None and view.mode != "stock" else ""
    target_label = f"Target {format_money(view.target_price, view.currency, who.locale)}" if target else ""
    if not points:
        return Chart([], [], [], {}, [], target, target_label, dots=False)
    start = points[0].at
    end = max(now, points[-1].at)
    span = end - start
    # The series goes on to now at the last price, so the latest level is drawn as a step.
    shown = [*points, HistoryPoint(end, points[-1].price, points[-1].currency, points[-1].availability)]
    series: list[dict[str, str | float | int | None]] = [
        {
            "t": _ms(point.at),
            "price": float(point.price) if point.price is not None else None,
            "when": _when(point.at, span, who),
            "price_text": format_money(point.price, point.currency or view.currency, who.locale),
        }
        for point in shown
    ]
    axis_start, axis_end = start, end + max(span * RIGHT_PADDING, MIN_RIGHT_PADDING)
    if axis_end - axis_start < MIN_AXIS_SPAN:  # a product added today: a few hours around its points
        widen = (MIN_AXIS_SPAN - (axis_end - axis_start)) / 2
        axis_start, axis_end = axis_start - widen, axis_end + widen
    ticks, labels = chart_ticks(axis_start, axis_end, who)
    return Chart(
        points=series,
        # A period that lasts until now runs to the edge: the item is still out of stock.
        bands=[
            StockBand(_ms(began), _ms(axis_end if until == end else until))
            for began, until in stock_bands(points, end)
        ],
        ticks=[_ms(tick) for tick in ticks],
        tick_labels={str(_ms(tick)): label for tick, label in zip(ticks, labels, strict=True)},
        domain=[_ms(axis_start), _ms(axis_end)],
        target=target,
        target_label=target_label,
        dots=len(points) <= FEW_POINTS,
    )


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
    """Every recorded point of the product as the user's watch sees it, oldest first, as CSV."""
    view = owned_watch(user_id, product_id)
    points = price_history(product_id, None, sys.maxsize, selector_key=view.series)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["checked_at_utc", "price", "currency", "availability"])
    for point in points:
        price = "" if point.price is None else f"{point.price.normalize():f}"
        writer.writerow([point.at.isoformat(), price, point.currency or "", point.availability])
    return out.getvalue()


ALERT_KINDS = (AlertKind.PRICE_DROP, AlertKind.RESTOCK)


def _alert_queued(user_id: int, watch_id: int, since: datetime | None) -> bool:
    if since is None:
        return False
    with session_scope() as session:
        found = session.exec(
            select(AlertEvent.id).where(
                AlertEvent.user_id == user_id,
                AlertEvent.watch_id == watch_id,
                AlertEvent.kind.in_(ALERT_KINDS),
                AlertEvent.created_at >= since,
            )
        ).first()
    return found is not None


LAYOUT_CHANGED = (
    "The page layout changed: the price you picked is gone, so CloudTrack reads the price "
    "automatically until you pick it again. "
)
PICK_BACK = "The price you picked is back on the page. "


def _pick_change(before: WatchView, after: WatchView) -> str:
    """A sentence when the check lost or found again the watch's picked price ("" otherwise)."""
    if after.pick_missing and not before.pick_missing:
        return LAYOUT_CHANGED
    if before.pick_missing and not after.pick_missing and after.price_selector is not None:
        return PICK_BACK
    return ""


def check_report(user_id: int, before: WatchView, outcome: CheckOutcome) -> str:
    """What a "Check now" found, in one or two sentences: "£450.00 → £379.00, below your
    target. An alert is on its way." """
    if outcome.status not in (
        CheckStatus.CHANGED,
        CheckStatus.UNCHANGED,
        CheckStatus.NOT_MODIFIED,
        CheckStatus.SAME_PAGE,
    ):
        return outcome.summary
    locale = viewer(user_id).locale
    # The price this watch sees: its picked element's, when it has one, not the product's.
    after = get_watch(user_id, before.watch_id)
    changes = []
    if after.price != before.price and after.price is not None:
        old = format_money(before.price, before.currency, locale, missing="no price")
        changes.append(f"{old} → {format_money(after.price, after.currency, locale)}")
        wants_price = before.mode != WatchMode.STOCK and before.target_price is not None
        if wants_price and after.price <= before.target_price:
            changes.append("below your target")
    if outcome.availability != before.availability:
        changes.append(
            {
                Availability.IN_STOCK: "back in stock",
                Availability.OUT_OF_STOCK: "now out of stock",
            }.get(outcome.availability, "stock no longer shown")
        )
    layout = _pick_change(before, after)
    if not changes:
        price = format_money(after.price, after.currency, locale, missing="no price")
        stock = AVAILABILITY_WORDS.get(outcome.availability, "stock unknown")
        return f"{layout}Checked just now: no change ({price}, {stock})."
    sentence = ", ".join(changes)
    report = layout + sentence[0].upper() + sentence[1:] + "."
    if _alert_queued(user_id, before.watch_id, outcome.checked_at):
        report += " An alert is on its way."
    return report
