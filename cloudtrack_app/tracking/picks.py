"""A person's own price on a shared product page: the element they picked, per watch.

Products are shared and picks are not. One fetch and one parse per check serve every
watcher: the checker claims a product together with the distinct selectors its active
watches picked, and the reader reads each of them on the same parsed page
(`Extraction.picked`). The product's own fields and `PricePoint` history stay the automatic
reading, which every watch without a pick sees; a watch with a pick is evaluated on its own
observation (the picked price with the product's availability) and keeps its own series
(`PickPoint`), so one person's pick never changes what another sees or is told.

Setting, clearing, losing or finding again a pick never alerts: the watch's price rule is
re-based on the price it switches to (`observations.rebase_watch`). The check side lives in
`observations.record_picks`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlmodel import Session

from cloudtrack_app.models import Product, Watch, utcnow
from cloudtrack_app.tracking.extract import validate_selector
from cloudtrack_app.tracking.extract.money import MAX_AMOUNT
from cloudtrack_app.tracking.observations import (
    PRICE_AUTOMATIC,
    PRICE_PICKED,
    observation_of,
    rebase_watch,
    record_pick_point,
    series_of,
    watch_observation,
    watch_price,
)
from cloudtrack_app.tracking.owned import locked_watch
from cloudtrack_app.tracking.rules import Observation

__all__ = [
    "PRICE_AUTOMATIC",
    "PRICE_PICKED",
    "Pick",
    "PickRefused",
    "clear_pick",
    "pick_for_new_watch",
    "set_pick",
    "validated_pick",
    "watch_price",
]

CURRENCY_CODE = re.compile(r"[A-Z]{3}")


class PickRefused(ValueError):
    """A pick that cannot be kept; `message` says why, in words for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Pick:
    """An element a person picked as the price: its selector and the amount it showed then."""

    selector: str
    price: Decimal
    currency: str | None


def validated_pick(selector: str, price: Decimal | str, currency: str | None) -> Pick:
    """The pick to store, or `PickRefused` (a selector this app cannot read, a price that is none)."""
    text = (selector or "").strip() if isinstance(selector, str) else ""
    if not text:
        raise PickRefused("Choose the price on the page, or type a CSS selector.")
    problem = validate_selector(text)
    if problem is not None:
        raise PickRefused(problem)
    try:
        amount = Decimal(str(price).strip())
    except InvalidOperation as error:
        raise PickRefused("The picked price is not a number.") from error
    if not amount.is_finite() or not Decimal(0) < amount < MAX_AMOUNT:
        raise PickRefused("The picked price must be an amount above zero.")
    code = (currency or "").strip().upper() or None
    if code is not None and CURRENCY_CODE.fullmatch(code) is None:
        raise PickRefused("The picked price's currency must be a three-letter ISO 4217 code.")
    return Pick(text, amount, code)


def _read_again_at_next_check(product: Product) -> None:
    """A page answered 304 or sent the same bytes is not read; a new selector must be."""
    product.etag = product.last_modified = product.page_fingerprint = None


def set_pick(
    session: Session,
    *,
    user_id: int,
    watch_id: int,
    selector: str,
    price: Decimal,
    currency: str | None,
) -> None:
    """From now on the watch's price is what `selector` finds on the page (it showed `price`).

    Raises `WatchNotFound` for a watch that is not the user's, `PickRefused` for a bad pick.
    No alert for the switch: the watch's rule starts afresh at the picked price.
    """
    pick = validated_pick(selector, price, currency)
    watch, product = locked_watch(session, user_id, watch_id)
    now = utcnow()
    seen = _store(watch, product, pick, observation_of(product), now)
    record_pick_point(session, product, _series(watch), product.last_checked_at, seen, now)
    rebase_watch(session, product, watch, seen, now)
    _read_again_at_next_check(product)
    session.add(product)


def clear_pick(session: Session, *, user_id: int, watch_id: int) -> None:
    """Back to the automatic reading; no alert for the switch. Raises `WatchNotFound`."""
    watch, product = locked_watch(session, user_id, watch_id)
    watch.price_selector = watch.picked_currency = watch.pick_currency = None
    watch.picked_price = watch.pick_price = None
    watch.picked_at = watch.pick_missing_since = None
    seen = observation_of(product)
    if seen is not None:
        rebase_watch(session, product, watch, seen, utcnow())
    session.add(watch)


def pick_for_new_watch(
    session: Session, product: Product, watch: Watch, pick: Pick, automatic: Observation
) -> Observation:
    """Give a watch being added its owner's pick; what the watch sees now (its rules start there).

    `watch` is not flushed yet; `product` is, and holds the lock of the transaction.
    """
    now = utcnow()
    seen = _store(watch, product, pick, automatic, now)
    record_pick_point(session, product, _series(watch), product.last_checked_at, seen, now)
    _read_again_at_next_check(product)
    session.add(product)
    return seen


def _store(
    watch: Watch, product: Product, pick: Pick, automatic: Observation | None, now: datetime
) -> Observation:
    watch.price_selector = pick.selector
    watch.picked_price = watch.pick_price = pick.price
    watch.picked_currency = watch.pick_currency = pick.currency or product.currency
    watch.picked_at = now
    watch.pick_missing_since = None
    seen = watch_observation(watch, automatic or Observation(None, product.currency))
    assert seen is not None
    return seen


def _series(watch: Watch) -> str:
    series = series_of(watch)
    assert series is not None
    return series
