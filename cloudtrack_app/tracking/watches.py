"""A user's watches: list, pause, resume, edit, re-arm, delete — each checks ownership.

Another user's watch id is answered exactly like a missing one (`WatchNotFound`), so ids
reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import select

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Product, Watch, WatchMode, utcnow
from cloudtrack_app.tracking.ingest import IngestError, validate_watch_request
from cloudtrack_app.tracking.observations import (
    PRICE_AUTOMATIC,
    evaluate_watches,
    memory_of,
    observation_of,
    series_of,
    set_memory,
    watch_observation,
    watch_price,
    window_lowest,
)
from cloudtrack_app.tracking.owned import WatchNotFound as WatchNotFound  # where callers look for it
from cloudtrack_app.tracking.owned import locked_watch, owned_watch
from cloudtrack_app.tracking.rules import (
    Observation,
    WatchMemory,
    WatchRule,
    initial_memory,
    is_fulfilled,
    rearmed_stock_memory,
)


@dataclass(frozen=True)
class WatchView:
    """A watch with its product, as the UI and the CLI show it."""

    watch_id: int
    product_id: int
    url: str
    shop: str
    title: str | None
    image: str | None
    mode: str
    target_price: Decimal | None
    any_drop: bool
    active: bool
    fulfilled: bool  # a stock watch that has alerted; `rearm_watch` waits for the next restock
    price: Decimal | None
    currency: str | None
    availability: str
    initial_price: Decimal | None
    last_alerted_price: Decimal | None
    last_checked_at: datetime | None
    last_changed_at: datetime | None
    next_check_at: datetime
    failing: bool
    last_error: str | None
    created_at: datetime
    drop_percent: Decimal | None = None  # "a drop of at least X %" instead of a target
    lowest_window_days: int | None = None  # "the lowest price in the last N days" instead
    notify_increase: bool = False  # also told when the price goes up
    price_source: str = PRICE_AUTOMATIC  # PRICE_PICKED: `price` is the element the owner picked
    price_selector: str | None = None  # the owner's pick, kept while it is missing from the page
    picked_price: Decimal | None = None  # what the picked element showed when it was picked
    pick_missing: bool = False  # the picked element is gone from the page ("the page layout changed")
    series: str | None = (
        None  # the watch's own price series (`history`'s `selector_key`); None: the product's
    )

    @property
    def own_observation(self) -> Observation | None:
        """What the watch sees now, for statistics of its own series (None: the product's apply)."""
        return Observation(self.price, self.currency, self.availability) if self.series else None


def _view(watch: Watch, product: Product) -> WatchView:
    assert watch.id is not None and product.id is not None
    memory = WatchMemory(stock_fulfilled=watch.stock_fulfilled)
    price, currency, source = watch_price(watch, product)
    return WatchView(
        watch_id=watch.id,
        product_id=product.id,
        url=product.url,
        shop=product.shop_domain,
        title=product.title,
        image=product.image_url,
        mode=watch.mode,
        target_price=watch.target_price,
        any_drop=watch.mode != WatchMode.STOCK
        and watch.target_price is None
        and watch.drop_percent is None
        and watch.lowest_window_days is None,
        active=watch.active,
        fulfilled=is_fulfilled(watch.mode, memory),
        price=price,
        currency=currency,
        availability=product.last_availability,
        initial_price=watch.initial_price,
        last_alerted_price=watch.last_alerted_price,
        last_checked_at=product.last_checked_at,
        last_changed_at=product.last_changed_at,
        next_check_at=product.next_check_at,
        failing=product.failing,
        last_error=product.last_error,
        created_at=watch.created_at,
        drop_percent=watch.drop_percent,
        lowest_window_days=watch.lowest_window_days,
        notify_increase=watch.notify_increase,
        price_source=source,
        price_selector=watch.price_selector,
        picked_price=watch.picked_price,
        pick_missing=watch.pick_missing_since is not None,
        series=series_of(watch),
    )


def list_watches(user_id: int) -> list[WatchView]:
    """The user's watches, newest first."""
    query = (
        select(Watch, Product)
        .join(Product, Product.id == Watch.product_id)
        .where(Watch.user_id == user_id)
        .order_by(Watch.created_at.desc(), Watch.id.desc())
    )
    with session_scope() as session:
        return [_view(watch, product) for watch, product in session.exec(query).all()]


def get_watch(user_id: int, watch_id: int) -> WatchView:
    with session_scope() as session:
        watch = owned_watch(session, user_id, watch_id)
        product = session.get(Product, watch.product_id)
        assert product is not None
        return _view(watch, product)


def _set_active(user_id: int, watch_id: int, active: bool) -> WatchView:
    with session_scope() as session:
        watch, product = locked_watch(session, user_id, watch_id)
        resumed = active and not watch.active
        watch.active = active
        session.add(watch)
        current = watch_observation(watch, observation_of(product))
        if resumed and current is not None:
            # Checks skipped this watch while it was paused: catch up with the latest one.
            evaluate_watches(session, product, [watch], None, current, utcnow())
        return _view(watch, product)


def pause_watch(user_id: int, watch_id: int) -> WatchView:
    """Stop checking and alerting for this watch (its history stays)."""
    return _set_active(user_id, watch_id, False)


def resume_watch(user_id: int, watch_id: int) -> WatchView:
    """Check and alert again; a target reached while paused alerts now."""
    return _set_active(user_id, watch_id, True)


def delete_watch(user_id: int, watch_id: int) -> None:
    """Delete the watch and its alert events; the shared product and its history stay."""
    with session_scope() as session:
        watch, _ = locked_watch(session, user_id, watch_id)
        session.delete(watch)


@dataclass(frozen=True)
class EditResult:
    watch: WatchView
    target_met: bool  # the new target is already met: said now, not alerted later


def edit_watch(
    user_id: int,
    watch_id: int,
    *,
    mode: str,
    target_price: Decimal | str | int | None,
    any_drop: bool = False,
    drop_percent: Decimal | str | int | None = None,
    lowest_window_days: int | str | None = None,
    notify_increase: bool = False,
) -> EditResult:
    """Change what the watch waits for; its rule memory starts afresh from the last check.

    The rules given replace all of the watch's price rules (a percent or window left out is
    cleared). Raises `IngestError` for a request `add_watch` would refuse against the last
    check (except an in-stock item for a stock watch: that one simply waits for the next restock).
    """
    mode, target, rules = validate_watch_request(
        mode, target_price, any_drop, drop_percent, lowest_window_days, notify_increase
    )
    with session_scope() as session:
        watch, product = locked_watch(session, user_id, watch_id)
        current = watch_observation(watch, observation_of(product)) or Observation(None, None)
        if target is not None and current.price is not None and target > current.price:
            raise IngestError(
                "target_above_price",
                f"Your target {target} is above the current price {current.price}. "
                "Would you like an alert on any price drop instead?",
                "any_drop",
            )
        initial = current.price if target is None else watch.initial_price or current.price
        rule = WatchRule(
            mode,
            target,
            initial,
            drop_percent=rules.drop_percent,
            lowest_window_days=rules.lowest_window_days,
            notify_increase=rules.notify_increase,
        )
        assert product.id is not None
        low = window_lowest(
            session, product.id, current.currency, rules.lowest_window_days, utcnow(), series_of(watch)
        )
        memory, target_met = initial_memory(rule, current, window_lowest=low)
        memory = WatchMemory(
            price_armed=memory.price_armed,
            last_alerted_price=memory.last_alerted_price,
            price_crossings=watch.price_crossings,
            seen_out_of_stock=memory.seen_out_of_stock,
            stock_fulfilled=False,
            restock_count=watch.restock_count,
            increase_count=watch.increase_count,
        )
        watch.mode = mode
        watch.target_price = target
        watch.drop_percent = rules.drop_percent
        watch.lowest_window_days = rules.lowest_window_days
        watch.notify_increase = rules.notify_increase
        watch.initial_price = initial
        set_memory(watch, memory)
        session.add(watch)
        return EditResult(_view(watch, product), target_met)


def rearm_watch(user_id: int, watch_id: int) -> WatchView:
    """Wait for the next restock again after a stock alert fulfilled the watch."""
    with session_scope() as session:
        watch, product = locked_watch(session, user_id, watch_id)
        current = observation_of(product) or Observation(None, None)
        set_memory(watch, rearmed_stock_memory(memory_of(watch), current))
        session.add(watch)
        return _view(watch, product)
