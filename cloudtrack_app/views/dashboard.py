"""What the dashboard shows: a user's watches sorted, filtered and paginated, as small
display-ready rows (money formatted for the user's locale, a 30-day sparkline path).

Only the rows of the requested page get history queries, so a user with a thousand
watches costs one list query plus a page's worth of indexed look-ups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import ago_text, format_money
from cloudtrack_app.models import Availability, Product, WatchMode, utcnow
from cloudtrack_app.tracking.history import HistoryPoint, price_history, stats_in_session
from cloudtrack_app.tracking.images import product_image_path
from cloudtrack_app.tracking.watches import WatchView, list_watches
from cloudtrack_app.views.viewer import viewer

PAGE_SIZE = 24
SPARKLINE_DAYS = 30
SPARKLINE_WIDTH, SPARKLINE_HEIGHT = 120, 32


class SortKey(StrEnum):
    NAME = "name"
    PRICE = "price"
    BIGGEST_DROP = "drop"
    RECENTLY_CHANGED = "changed"


class FilterKey(StrEnum):
    ALL = "all"
    BELOW_TARGET = "below_target"
    IN_STOCK = "in_stock"
    FAILING = "failing"


@dataclass(frozen=True)
class WatchRow:
    watch_id: int
    product_id: int
    title: str
    image: str  # CloudTrack's own address of the image (never the shop's), "" for none
    shop: str
    url: str
    mode: str
    price_text: str
    target_text: str
    change_text: str
    change_direction: str  # "down" | "up" | "same" | ""
    availability: str
    good_deal: bool
    below_target: bool
    sparkline: str  # an SVG path, "" when there is too little history
    checked_text: str
    failing: bool
    error: str
    active: bool


@dataclass(frozen=True)
class DashboardPage:
    rows: list[WatchRow]
    total: int  # watches matching the filter
    page: int
    pages: int
    counts: dict[str, int]  # per filter key, over all the user's watches


def target_text(view: WatchView, locale: str) -> str:
    """What the watch waits for, in words: a price, "any drop" or "back in stock"."""
    if view.mode == WatchMode.STOCK:
        return "back in stock"
    if view.lowest_window_days is not None:
        return f"lowest in {view.lowest_window_days} days"
    if view.drop_percent is not None:
        return f"a drop of {view.drop_percent.normalize():f} %"
    if view.target_price is None:
        return "any drop"
    return format_money(view.target_price, view.currency, locale)


def change_ratio(view: WatchView) -> Decimal | None:
    """The price change since the watch was added, as a fraction (−0.1 is a 10 % drop)."""
    if view.price is None or not view.initial_price:
        return None
    return (view.price - view.initial_price) / view.initial_price


def is_below_target(view: WatchView) -> bool:
    return view.price is not None and view.target_price is not None and view.price <= view.target_price


_FILTERS: dict[FilterKey, Callable[[WatchView], bool]] = {
    FilterKey.ALL: lambda view: True,
    FilterKey.BELOW_TARGET: is_below_target,
    FilterKey.IN_STOCK: lambda view: view.availability == Availability.IN_STOCK,
    FilterKey.FAILING: lambda view: view.failing,
}

_EPOCH = datetime.min.replace(tzinfo=UTC)
_SORTS: dict[SortKey, Callable[[WatchView], tuple]] = {
    SortKey.NAME: lambda view: ((view.title or view.url).casefold(),),
    SortKey.PRICE: lambda view: (view.price is None, view.price or Decimal(0)),
    SortKey.BIGGEST_DROP: lambda view: (change_ratio(view) is None, change_ratio(view) or Decimal(0)),
    SortKey.RECENTLY_CHANGED: lambda view: (-(view.last_changed_at or _EPOCH).timestamp(),),
}


def sparkline_path(
    values: Sequence[Decimal], width: int = SPARKLINE_WIDTH, height: int = SPARKLINE_HEIGHT
) -> str:
    """An SVG path through the values, scaled into width × height (flat when constant)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = high - low
    step = Decimal(width) / (len(values) - 1)
    points = []
    for index, value in enumerate(values):
        y = (
            Decimal(height) / 2
            if not span
            else Decimal(height) - (value - low) / span * Decimal(height - 2) - 1
        )
        points.append(f"{float(index * step):.1f},{float(y):.1f}")
    return "M" + " L".join(points)


def restocked(view: WatchView, history: Sequence[HistoryPoint]) -> bool:
    """Whether the item is in stock now and the last change of its stock was a restock."""
    if view.availability != Availability.IN_STOCK:
        return False
    for point in reversed(history):
        if point.availability != Availability.IN_STOCK:
            return point.availability == Availability.OUT_OF_STOCK
    return False


def change_text(view: WatchView, history: Sequence[HistoryPoint]) -> tuple[str, str]:
    """The card's line about what changed since the watch was added, and its direction."""
    ratio = change_ratio(view)
    back = "back in stock" if restocked(view, history) else ""
    if ratio is None or ratio == 0:
        if back:
            return back, "down"
        return ("", "") if ratio is None else ("no change", "same")
    change = f"{abs(ratio) * 100:.1f} % {'lower' if ratio < 0 else 'higher'} than when added"
    return (f"{back}, {change}" if back else change), ("down" if ratio < 0 else "up")


def _row(view: WatchView, product: Product, locale: str, now: datetime) -> WatchRow:
    history = price_history(view.product_id, SPARKLINE_DAYS, max_points=60, now=now, selector_key=view.series)
    change, direction = change_text(view, history)
    with session_scope() as session:
        stats = stats_in_session(
            session, product, now, selector_key=view.series, current=view.own_observation
        )
    return WatchRow(
        watch_id=view.watch_id,
        product_id=view.product_id,
        title=view.title or view.url,
        image=product_image_path(view.product_id, view.image),
        shop=view.shop,
        url=view.url,
        mode=view.mode,
        price_text=format_money(view.price, view.currency, locale),
        target_text=target_text(view, locale),
        change_text=change,
        change_direction=direction,
        availability=view.availability,
        good_deal=stats.good_deal,
        below_target=is_below_target(view),
        sparkline=sparkline_path([p.price for p in history if p.price is not None]),
        checked_text=ago_text(view.last_checked_at, now, locale),
        failing=view.failing,
        error=view.last_error or "",
        active=view.active,
    )


def dashboard_page(
    user_id: int,
    *,
    sort: str = SortKey.RECENTLY_CHANGED,
    filter_by: str = FilterKey.ALL,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> DashboardPage:
    """One page of the user's watches; unknown sort or filter names fall back to the defaults."""
    now = now or utcnow()
    sort_key = SortKey(sort) if sort in SortKey._value2member_map_ else SortKey.RECENTLY_CHANGED
    filter_key = FilterKey(filter_by) if filter_by in FilterKey._value2member_map_ else FilterKey.ALL
    views = list_watches(user_id)
    counts = {key.value: sum(1 for view in views if test(view)) for key, test in _FILTERS.items()}
    matching = sorted(filter(_FILTERS[filter_key], views), key=_SORTS[sort_key])
    pages = max(1, -(-len(matching) // page_size))
    page = min(max(1, page), pages)
    shown = matching[(page - 1) * page_size : page * page_size]
    locale = viewer(user_id).locale
    with session_scope() as session:
        products = {view.product_id: session.get(Product, view.product_id) for view in shown}
    rows = [_row(view, products[view.product_id], locale, now) for view in shown]
    return DashboardPage(rows=rows, total=len(matching), page=page, pages=pages, counts=counts)
