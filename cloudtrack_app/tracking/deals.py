"""Whether a shop's "was 199 €, now −40 %" holds, measured against CloudTrack's own history.

The EU Omnibus directive measures an announced reduction from the lowest price of the 30
days before it. CloudTrack knows what the page showed on each day it read it, so it can say
whether the claimed former price is one the product actually sold for: the claim holds when
the lowest price of the previous 30 days (readings before today) is at least the claimed
one, and is overstated otherwise. With less history than 30 days the verdict says how many
days it rests on; with none, that it cannot tell yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import Session

from cloudtrack_app.i18n import DEFAULT_LOCALE, day_text, format_money, percent_text
from cloudtrack_app.models import Availability, Product
from cloudtrack_app.tracking.history import HistoryPoint, points_from

REFERENCE_DAYS = 30
MINUS = "\u2212"


class DealOutcome(StrEnum):
    HOLDS = "holds"  # the claimed former price is not above the lowest of the previous 30 days
    OVERSTATED = "overstated"  # it sold for less than the claimed former price in those days
    NO_HISTORY = "no_history"  # no reading before today to measure the claim against


@dataclass(frozen=True)
class DealCheck:
    """A shop's claimed discount and what CloudTrack's history says about it."""

    outcome: DealOutcome
    price: Decimal
    was_price: Decimal
    currency: str
    reference_lowest: Decimal | None = None  # the lowest price of the days measured
    reference_at: datetime | None = None  # the last time it was on the page at that price
    history_days: int = 0  # how many of the previous 30 days the history covers

    @property
    def claimed_percent(self) -> int:
        return int(((self.was_price - self.price) * 100 / self.was_price).to_integral_value())

    @property
    def real_percent(self) -> int | None:
        """The reduction from the reference price (negative: dearer than it was)."""
        if not self.reference_lowest:
            return None
        change = (self.reference_lowest - self.price) * 100 / self.reference_lowest
        return int(change.to_integral_value())


def check_deal(
    price: Decimal | None,
    was_price: Decimal | None,
    currency: str | None,
    history: Sequence[HistoryPoint],
    now: datetime,
) -> DealCheck | None:
    """The verdict on a claimed former price, or None when there is no claim to judge.

    `history` is the product's readings in time order, the one in effect 30 days before
    today first when there is one; readings of today, in another currency, without a price
    or while out of stock do not count.
    """
    if price is None or was_price is None or currency is None or was_price <= price:
        return None
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    window_start = today - timedelta(days=REFERENCE_DAYS)
    seen: list[tuple[datetime, Decimal]] = []
    for point in history:
        if point.at >= today:
            break
        if point.at < window_start:
            seen = []  # only the last reading before the window speaks for the window
        if (
            point.price is None
            or point.currency != currency
            or point.availability == Availability.OUT_OF_STOCK
        ):
            continue
        seen.append((max(point.at, window_start), point.price))
    claim = DealCheck(DealOutcome.NO_HISTORY, price, was_price, currency)
    if not seen:
        return claim
    lowest = min(amount for _, amount in seen)
    lowest_at = max(at for at, amount in seen if amount == lowest)
    first = min(at for at, _ in seen)
    days = max(1, (today.date() - first.date()).days)
    outcome = DealOutcome.HOLDS if was_price <= lowest else DealOutcome.OVERSTATED
    return DealCheck(outcome, price, was_price, currency, lowest, lowest_at, days)


def deal_in_session(session: Session, product: Product, now: datetime) -> DealCheck | None:
    """The verdict on the claim the product's page makes now, from its stored history."""
    if product.last_was_price is None or product.id is None:
        return None
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    history = points_from(session, product.id, today - timedelta(days=REFERENCE_DAYS))
    return check_deal(product.last_price, product.last_was_price, product.currency, history, now)


def deal_sentence(deal: DealCheck, locale: str = DEFAULT_LOCALE, zone: ZoneInfo | None = None) -> str:
    """The verdict as people read it: "The shop says −40 % from 199 €; it sold for 129 € on 12 Nov."."""
    said = f"The shop says {claimed_discount_text(deal, locale)} from {format_money(deal.was_price, deal.currency, locale)}"
    if deal.outcome == DealOutcome.NO_HISTORY or deal.reference_lowest is None:
        return f"{said}; CloudTrack has no earlier prices to check that against yet."
    lowest = format_money(deal.reference_lowest, deal.currency, locale)
    if deal.outcome == DealOutcome.HOLDS:
        sentence = f"{said}, and that holds: the lowest price before today was {lowest}."
    else:
        sentence = f"{said}; it sold for {lowest} on {_day(deal, locale, zone)}."
        real = deal.real_percent
        if real is not None and real > 0:
            sentence += f" From that price, today's is {MINUS}{percent_text(real, locale)}."
        else:
            sentence += " From that price, today's is no reduction."
    if deal.history_days < REFERENCE_DAYS:
        sentence += (
            f" (CloudTrack's history covers {days_text(deal.history_days)}, not the full {REFERENCE_DAYS}.)"
        )
    return sentence


def deal_verdict(deal: DealCheck, locale: str = DEFAULT_LOCALE, zone: ZoneInfo | None = None) -> str:
    """The verdict in a few words, for a line of facts: "overstated: it sold for 129 € on 12 Nov"."""
    if deal.outcome == DealOutcome.NO_HISTORY or deal.reference_lowest is None:
        return "not checked: no earlier prices yet"
    lowest = format_money(deal.reference_lowest, deal.currency, locale)
    if deal.outcome == DealOutcome.HOLDS:
        verdict = f"holds (lowest before today: {lowest})"
    else:
        verdict = f"overstated: it sold for {lowest} on {_day(deal, locale, zone)}"
    if deal.history_days < REFERENCE_DAYS:
        verdict += f", from {days_text(deal.history_days)} of history"
    return verdict


def claimed_discount_text(deal: DealCheck, locale: str = DEFAULT_LOCALE) -> str:
    """The discount the shop claims, as it would print it ("−40 %")."""
    return f"{MINUS}{percent_text(deal.claimed_percent, locale)}"


def days_text(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _day(deal: DealCheck, locale: str, zone: ZoneInfo | None) -> str:
    """The reference day, without the closing period some languages write ("12. Nov")."""
    return day_text(deal.reference_at, locale, zone).rstrip(".")
