"""The facts stored on each alert event (`AlertEvent.facts`): one typed definition.

The engine builds them when it writes an event and `notify` reads them when it sends it,
maybe days later and after an upgrade; both go through `EventFacts`, so the JSON keys are
defined once. Parts of the facts come from a stranger's web page, so `from_json` trusts
nothing: a missing or wrong-typed value becomes None (or False), never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from cloudtrack_app.i18n import decimal_string

if TYPE_CHECKING:
    from cloudtrack_app.models import Product, Watch
    from cloudtrack_app.tracking.history import ProductStats
    from cloudtrack_app.tracking.rules import Observation

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
# Far beyond any price, yet small enough that every amount formats and quantizes within the
# decimal context ("1e5000" made formatting a message raise).
MAX_AMOUNT = Decimal("1e15")
SMALLEST_STEP = Decimal("1e-10")


def parse_decimal(value: Any) -> Decimal | None:
    """A finite Decimal of sane size from a decimal string or int, else None (floats are refused)."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        return None
    return amount if amount == amount.quantize(SMALLEST_STEP) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _currency(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _CURRENCY_CODE.match(code) else None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True)
class EventFacts:
    """What was true when the event was written; None where unknown.

    In JSON, money is a decimal string ("79.90", never a float) and a moment is ISO 8601
    with its UTC offset. The keys are the field names; `target_met`, `product_id` and
    `watch_id` are written only when set (the event row carries the ids; events made by
    hand, such as tests, may carry them in the facts instead).
    """

    kind: str | None  # an `AlertKind` value
    reason: str | None  # "watch_added" | a `rules.REASON_…` value
    crossing: int | None  # which crossing of the target (or restock) this is, from 1
    title: str | None  # from the shop's page
    shop: str | None  # the shop's domain
    url: str | None  # the product page at the shop
    image: str | None  # from the shop's page
    currency: str | None  # ISO 4217 code
    price: Decimal | None
    previous_price: Decimal | None  # at the check before this one
    target_price: Decimal | None
    any_drop: bool  # a price watch without a target: every drop alerts
    initial_price: Decimal | None  # when the watch was added
    mode: str | None  # a `WatchMode` value
    availability: str | None  # an `Availability` value
    previous_availability: str | None
    lowest_90d: Decimal | None
    average_90d: Decimal | None  # time-weighted
    lowest_ever: Decimal | None
    lowest_ever_at: datetime | None
    good_deal: bool  # clearly below the 90-day average (see `history`)
    checked_at: datetime | None
    target_met: bool | None = None  # confirmations only: the price was at the target already
    product_id: int | None = None
    watch_id: int | None = None
    drop_percent: Decimal | None = None  # the watch's "drop of at least X %" rule
    lowest_window_days: int | None = None  # the watch's "lowest in the last N days" rule
    notify_increase: bool | None = None  # the watch also tells price increases
    summary_of: int | None = None  # set by the dispatcher on a confirmation sent as a summary

    @classmethod
    def of_alert(
        cls,
        product: Product,
        watch: Watch,
        stats: ProductStats,
        *,
        kind: str,
        reason: str,
        crossing: int,
        previous: Observation | None,
        now: datetime,
        target_met: bool | None = None,
        current: Observation | None = None,
    ) -> EventFacts:
        """The facts of an alert of `watch`, with `product` as it is after the observation;
        `current` is what the watch saw when that is its own picked price, not the product's."""
        return cls(
            kind=str(kind),
            reason=reason,
            crossing=crossing,
            title=product.title,
            shop=product.shop_domain,
            url=product.url,
            image=product.image_url,
            currency=(current.currency if current else None) or product.currency,
            price=current.price if current else product.last_price,
            previous_price=previous.price if previous else None,
            target_price=watch.target_price,
            any_drop=watch.target_price is None,
            initial_price=watch.initial_price,
            mode=watch.mode,
            availability=product.last_availability,
            previous_availability=previous.availability if previous else None,
            lowest_90d=stats.last_90_days.lowest,
            average_90d=stats.last_90_days.average,
            lowest_ever=stats.all_time.lowest,
            lowest_ever_at=stats.lowest_ever_at,
            good_deal=stats.good_deal,
            checked_at=now,
            target_met=target_met,
            drop_percent=watch.drop_percent,
            lowest_window_days=watch.lowest_window_days,
            notify_increase=watch.notify_increase or None,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "reason": self.reason,
            "crossing": self.crossing,
            "title": self.title,
            "shop": self.shop,
            "url": self.url,
            "image": self.image,
            "currency": self.currency,
            "price": decimal_string(self.price),
            "previous_price": decimal_string(self.previous_price),
            "target_price": decimal_string(self.target_price),
            "any_drop": self.any_drop,
            "initial_price": decimal_string(self.initial_price),
            "mode": self.mode,
            "availability": self.availability,
            "previous_availability": self.previous_availability,
            "lowest_90d": decimal_string(self.lowest_90d),
            "average_90d": decimal_string(self.average_90d),
            "lowest_ever": decimal_string(self.lowest_ever),
            "lowest_ever_at": _iso(self.lowest_ever_at),
            "good_deal": self.good_deal,
            "checked_at": _iso(self.checked_at),
        }
        optional = {
            "target_met": self.target_met,
            "product_id": self.product_id,
            "watch_id": self.watch_id,
            "drop_percent": decimal_string(self.drop_percent),
            "lowest_window_days": self.lowest_window_days,
            "notify_increase": self.notify_increase,
            "summary_of": self.summary_of,
        }
        data.update((key, value) for key, value in optional.items() if value is not None)
        return data

    @classmethod
    def from_json(cls, raw: Any) -> EventFacts:
        """The facts in a stored dict; never raises, whatever `raw` holds."""
        facts: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return cls(
            kind=_text(facts.get("kind")),
            reason=_text(facts.get("reason")),
            crossing=_int(facts.get("crossing")),
            title=_text(facts.get("title")),
            shop=_text(facts.get("shop")),
            url=_text(facts.get("url")),
            image=_text(facts.get("image")),
            currency=_currency(facts.get("currency")),
            price=parse_decimal(facts.get("price")),
            previous_price=parse_decimal(facts.get("previous_price")),
            target_price=parse_decimal(facts.get("target_price")),
            any_drop=facts.get("any_drop") is True,
            initial_price=parse_decimal(facts.get("initial_price")),
            mode=_text(facts.get("mode")),
            availability=_text(facts.get("availability")),
            previous_availability=_text(facts.get("previous_availability")),
            lowest_90d=parse_decimal(facts.get("lowest_90d")),
            average_90d=parse_decimal(facts.get("average_90d")),
            lowest_ever=parse_decimal(facts.get("lowest_ever")),
            lowest_ever_at=_moment(facts.get("lowest_ever_at")),
            good_deal=facts.get("good_deal") is True,
            checked_at=_moment(facts.get("checked_at")),
            target_met=_flag(facts.get("target_met")),
            product_id=_int(facts.get("product_id")),
            watch_id=_int(facts.get("watch_id")),
            drop_percent=parse_decimal(facts.get("drop_percent")),
            lowest_window_days=_int(facts.get("lowest_window_days")),
            notify_increase=_flag(facts.get("notify_increase")),
            summary_of=_int(facts.get("summary_of")),
        )
