"""The deal check: does a shop's "was" price hold against the lowest price of the 30 days before?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cloudtrack_app.tracking.deals import DealCheck, DealOutcome, check_deal, deal_sentence
from cloudtrack_app.tracking.history import HistoryPoint

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
TODAY = datetime(2026, 12, 3, tzinfo=UTC)


def days_ago(
    days: int, price: str | None, currency: str = "EUR", availability: str = "in_stock"
) -> HistoryPoint:
    return HistoryPoint(
        TODAY - timedelta(days=days) + timedelta(hours=9),
        Decimal(price) if price else None,
        currency,
        availability,
    )


@dataclass(frozen=True)
class Example:
    name: str
    price: str
    was: str | None
    history: list[HistoryPoint]
    outcome: DealOutcome | None  # None: no claim to judge
    reference: str | None = None
    reference_days_ago: int | None = None
    history_days: int = 0
    currency: str = "EUR"


EXAMPLES = [
    Example(
        "holds: it sold for the claimed price all month",
        "119.40",
        "199.00",
        [days_ago(60, "199.00")],
        DealOutcome.HOLDS,
        "199.00",
        30,
        30,
    ),
    Example(
        "overstated: it sold for less in the month before",
        "119.40",
        "199.00",
        [days_ago(60, "199.00"), days_ago(21, "129.00"), days_ago(10, "199.00")],
        DealOutcome.OVERSTATED,
        "129.00",
        21,
        30,
    ),
    Example(
        "equal: the claimed price is the lowest of the month",
        "150.00",
        "199.00",
        [days_ago(40, "249.00"), days_ago(20, "199.00")],
        DealOutcome.HOLDS,
        "199.00",
        20,
        30,
    ),
    Example(
        "less than 30 days: it says how many days it rests on",
        "150.00",
        "199.00",
        [days_ago(12, "199.00"), days_ago(5, "189.00")],
        DealOutcome.OVERSTATED,
        "189.00",
        5,
        12,
    ),
    Example(
        "a low price before the 30 days does not count",
        "150.00",
        "199.00",
        [days_ago(45, "99.00"), days_ago(35, "199.00")],
        DealOutcome.HOLDS,
        "199.00",
        30,
        30,
    ),
    Example(
        "no history: first read today", "150.00", "199.00", [days_ago(0, "150.00")], DealOutcome.NO_HISTORY
    ),
    Example("no history at all", "150.00", "199.00", [], DealOutcome.NO_HISTORY),
    Example(
        "currency mismatch: readings in another currency are not history",
        "150.00",
        "199.00",
        [days_ago(20, "99.00", currency="USD")],
        DealOutcome.NO_HISTORY,
    ),
    Example(
        "prices while sold out were not sold for",
        "150.00",
        "199.00",
        [days_ago(20, "199.00"), days_ago(10, "99.00", availability="out_of_stock"), days_ago(8, "199.00")],
        DealOutcome.HOLDS,
        "199.00",
        8,
        20,
    ),
    Example("no claim: the was price is below the price", "150.00", "140.00", [days_ago(20, "99.00")], None),
    Example("no claim: the page shows none", "150.00", None, [days_ago(20, "99.00")], None),
]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_the_deal_check(example: Example) -> None:
    was = Decimal(example.was) if example.was else None
    deal = check_deal(Decimal(example.price), was, example.currency, example.history, NOW)
    if example.outcome is None:
        assert deal is None
        return
    assert deal is not None
    assert deal.outcome == example.outcome
    assert deal.reference_lowest == (Decimal(example.reference) if example.reference else None)
    if example.reference_days_ago is not None:
        assert deal.reference_at is not None
        assert (TODAY.date() - deal.reference_at.date()).days == example.reference_days_ago
    assert deal.history_days == example.history_days


def test_the_wording_of_an_overstated_claim() -> None:
    deal = DealCheck(
        DealOutcome.OVERSTATED,
        Decimal("119.40"),
        Decimal("199.00"),
        "EUR",
        Decimal("129.00"),
        datetime(2026, 11, 12, 10, tzinfo=UTC),
        30,
    )
    assert deal_sentence(deal, "en_IE") == (
        "The shop says −40% from €199.00; it sold for €129.00 on 12 Nov. From that price, today's is −7%."
    )
    assert "sold for 129,00\xa0€ on 12. Nov. From that price" in deal_sentence(deal, "de_DE")


def test_the_wording_says_how_many_days_a_short_history_covers() -> None:
    deal = DealCheck(
        DealOutcome.HOLDS, Decimal("150"), Decimal("199"), "USD", Decimal("199"), TODAY - timedelta(days=3), 3
    )
    assert deal_sentence(deal, "en") == (
        "The shop says −25% from $199.00, and that holds: the lowest price before today was $199.00."
        " (CloudTrack's history covers 3 days, not the full 30.)"
    )


def test_the_wording_without_history() -> None:
    deal = DealCheck(DealOutcome.NO_HISTORY, Decimal("150"), Decimal("199"), "EUR")
    assert deal_sentence(deal, "en").endswith("CloudTrack has no earlier prices to check that against yet.")


def test_a_claim_against_a_price_that_was_lower_still_is_no_reduction() -> None:
    deal = check_deal(Decimal("150"), Decimal("199"), "EUR", [days_ago(10, "120.00")], NOW)
    assert deal is not None and deal.real_percent == -25
    assert (
        deal_sentence(deal, "en")
        .split("; ")[1]
        .startswith("it sold for €120.00 on Nov 23. From that price, today's is no reduction.")
    )
