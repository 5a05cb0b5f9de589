"""What every screen says about a watch at a glance: its product, price, stock and status.

The dashboard card (`WatchRow`) and the product page (`ProductDetail`) both start from this,
so they cannot drift apart on what a price, a check or a problem looks like.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from cloudtrack_app.i18n import ago_text, format_money
from cloudtrack_app.models import WatchMode
from cloudtrack_app.tracking.images import product_image_path
from cloudtrack_app.tracking.watches import WatchView, watch_status


@dataclass(frozen=True)
class WatchSummary:
    watch_id: int
    product_id: int
    title: str
    image: str  # CloudTrack's own address of the image (never the shop's), "" for none
    shop: str
    url: str
    mode: str
    target_text: str
    active: bool
    price_text: str
    availability: str
    good_deal: bool
    checked_text: str
    failing: bool
    error: str
    status: str  # "ok" or a `ReadingProblem` value
    status_text: str  # "The shop is blocking our checks" ("" when ok)
    last_good_text: str  # "last good price 3 days ago", "never read"


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


def summary_fields(view: WatchView, good_deal: bool, locale: str, now: datetime) -> dict[str, Any]:
    """The `WatchSummary` fields of a watch, to build a `WatchSummary` or one of its extensions."""
    status = watch_status(view, now, locale)
    summary = WatchSummary(
        watch_id=view.watch_id,
        product_id=view.product_id,
        title=view.title or view.url,
        image=product_image_path(view.product_id, view.image),
        shop=view.shop,
        url=view.url,
        mode=view.mode,
        target_text=target_text(view, locale),
        active=view.active,
        price_text=format_money(view.price, view.currency, locale),
        availability=view.availability,
        good_deal=good_deal,
        checked_text=ago_text(view.last_checked_at, now, locale),
        failing=view.failing,
        error=view.last_error or "",
        status=status.status,
        status_text=status.text,
        last_good_text=status.last_good_text,
    )
    return {field.name: getattr(summary, field.name) for field in fields(summary)}
