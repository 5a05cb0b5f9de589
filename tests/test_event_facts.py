"""Alert event facts: the keys the engine stores, read back typed whatever the stored JSON holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cloudtrack_app.models import AlertKind, Product, Watch
from cloudtrack_app.tracking.event_facts import EventFacts
from cloudtrack_app.tracking.history import HistoryPoint, compute_stats
from cloudtrack_app.tracking.rules import Observation

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
D = Decimal

# What the engine stored for a price drop before `EventFacts` existed: existing rows look like this.
STORED_PRICE_DROP: dict[str, Any] = {
    "kind": "price_drop",
    "reason": "target_reached",
    "crossing": 1,
    "title": "Acme Coffee Grinder",
    "shop": "shop.example",
    "url": "https://shop.example/grinder",
    "image": "https://shop.example/grinder.jpg",
    "currency": "EUR",
    "price": "79.90",
    "previous_price": "99.00",
    "target_price": "80.00",
    "any_drop": False,
    "initial_price": "99.00",
    "mode": "price",
    "availability": "in_stock",
    "previous_availability": "in_stock",
    "lowest_90d": "79.90",
    "average_90d": "99.00",  # 79.90 has been on the page for no time yet
    "lowest_ever": "79.90",
    "lowest_ever_at": "2026-06-30T12:00:00+00:00",
    "good_deal": True,
    "checked_at": "2026-06-30T12:00:00+00:00",
}

NOTHING = EventFacts(
    kind=None,
    reason=None,
    crossing=None,
    title=None,
    shop=None,
    url=None,
    image=None,
    currency=None,
    price=None,
    previous_price=None,
    target_price=None,
    any_drop=False,
    initial_price=None,
    mode=None,
    availability=None,
    previous_availability=None,
    lowest_90d=None,
    average_90d=None,
    lowest_ever=None,
    lowest_ever_at=None,
    good_deal=False,
    checked_at=None,
)


def grinder_facts(*, target_met: bool | None = None, lowest_window_days: int | None = None) -> EventFacts:
    product = Product(
        id=5,
        url="https://shop.example/grinder",
        shop_domain="shop.example",
        title="Acme Coffee Grinder",
        image_url="https://shop.example/grinder.jpg",
        currency="EUR",
        last_price=D("79.90"),
        last_availability="in_stock",
    )
    watch = Watch(
        id=3,
        user_id=1,
        product_id=5,
        mode="price",
        target_price=D("80"),
        initial_price=D("99"),
        lowest_window_days=lowest_window_days,
    )
    history = [
        HistoryPoint(NOW - timedelta(days=40), D("99.00"), "EUR", "in_stock"),
        HistoryPoint(NOW, D("79.90"), "EUR", "in_stock"),
    ]
    stats = compute_stats(
        5,
        history,
        currency="EUR",
        current_price=D("79.90"),
        availability="in_stock",
        last_checked_at=NOW,
        now=NOW,
    )
    return EventFacts.of_alert(
        product,
        watch,
        stats,
        kind=AlertKind.PRICE_DROP,
        reason="target_reached",
        crossing=1,
        previous=Observation(D("99.00"), "EUR", "in_stock"),
        now=NOW,
        target_met=target_met,
    )


def test_the_engine_stores_the_same_keys_as_before_and_reads_them_back() -> None:
    facts = grinder_facts()
    stored = facts.to_json()
    assert stored == STORED_PRICE_DROP
    assert json.loads(json.dumps(stored)) == stored  # plain JSON: no Decimal, no datetime
    assert EventFacts.from_json(stored) == facts
    assert EventFacts.from_json(STORED_PRICE_DROP).to_json() == STORED_PRICE_DROP


def test_optional_keys_are_stored_only_when_set() -> None:
    confirmation = grinder_facts(target_met=False).to_json()
    assert confirmation == {**STORED_PRICE_DROP, "target_met": False}
    assert EventFacts.from_json(confirmation).target_met is False
    by_hand = EventFacts.from_json({"product_id": 7, "watch_id": "3"})
    assert (by_hand.product_id, by_hand.watch_id) == (7, 3)
    assert by_hand.to_json()["product_id"] == 7


@pytest.mark.parametrize(("window", "history_days"), [(None, None), (30, None), (90, 40), (365, 40)])
def test_a_new_low_rule_with_less_history_than_its_window_stores_the_days_there_are(
    window: int | None, history_days: int | None
) -> None:
    stored = grinder_facts(lowest_window_days=window).to_json()  # 40 days of history
    assert stored.get("history_days") == history_days
    assert EventFacts.from_json(stored).history_days == history_days


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, {}),
        ("price_drop", {}),
        ([STORED_PRICE_DROP], {}),
        ({"price": 12.5}, {"price": None}),  # floats are refused: money is Decimal end to end
        ({"price": True}, {"price": None}),
        ({"price": "NaN"}, {"price": None}),
        ({"price": "-Infinity"}, {"price": None}),
        ({"price": "1e5000"}, {"price": None}),  # would make formatting raise
        ({"price": "1." + "0" * 40 + "1"}, {"price": None}),  # more digits than decimals hold
        ({"price": "79.90 EUR"}, {"price": None}),
        ({"price": {"amount": "1"}}, {"price": None}),
        ({"price": 80}, {"price": D("80")}),
        ({"price": " 79.90 "}, {"price": D("79.90")}),
        ({"price": "79.9000000000000"}, {"price": D("79.9")}),
        ({"currency": "eur "}, {"currency": "EUR"}),
        ({"currency": "euro"}, {"currency": None}),
        ({"currency": 978}, {"currency": None}),
        ({"crossing": "2"}, {"crossing": 2}),
        ({"crossing": True}, {"crossing": None}),
        ({"crossing": float("inf")}, {"crossing": None}),
        ({"crossing": [1]}, {"crossing": None}),
        ({"checked_at": "yesterday"}, {"checked_at": None}),
        ({"checked_at": "2026-06-30T12:00:00"}, {"checked_at": None}),  # no zone: not a moment
        ({"checked_at": 1782820800}, {"checked_at": None}),
        ({"lowest_ever_at": "2026-06-30T14:00:00+02:00"}, {"lowest_ever_at": NOW}),
        ({"good_deal": "yes", "any_drop": 1}, {"good_deal": False, "any_drop": False}),
        ({"target_met": "true"}, {"target_met": None}),
        ({"title": ["Grinder"], "url": 42, "mode": None}, {"title": None, "url": None, "mode": None}),
        ({"title": "<b>Grinder</b>\x00"}, {"title": "<b>Grinder</b>\x00"}),  # cleaning is for messages
    ],
)
def test_junk_becomes_none_or_false_and_never_raises(raw: Any, expected: dict[str, Any]) -> None:
    facts = EventFacts.from_json(raw)
    assert {key: getattr(facts, key) for key in expected} == expected
    untouched = {key: value for key, value in vars(facts).items() if key not in expected}
    assert untouched == {key: value for key, value in vars(NOTHING).items() if key not in expected}
    json.dumps(facts.to_json())  # whatever was read can be written again
