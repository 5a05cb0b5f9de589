"""Alert rules as a table: what a user is told for each sequence of prices and stock states."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cloudtrack_app.tracking.rules import (
    Observation,
    WatchMemory,
    WatchRule,
    evaluate,
    initial_memory,
    is_fulfilled,
    rearmed_stock_memory,
)

IN, OUT, UNKNOWN = "in_stock", "out_of_stock", "unknown"


def obs(price: str | None, availability: str = IN, currency: str | None = "EUR") -> Observation:
    return Observation(Decimal(price) if price is not None else None, currency, availability)


def run(mode: str, target: str | None, steps: list[Observation]) -> tuple[bool, list[tuple[int, str, str]]]:
    """Add a watch at steps[0], then check steps[1:]; returns (target met at once, alerts)."""
    rule = WatchRule(mode, Decimal(target) if target else None, steps[0].price)
    memory, target_met = initial_memory(rule, steps[0])
    alerts = []
    for index in range(1, len(steps)):
        decision = evaluate(rule, memory, steps[index - 1], steps[index])
        memory = decision.memory
        alerts += [(index, str(a.kind), a.reason) for a in decision.alerts]
    return target_met, alerts


DROP, FURTHER, RESTOCK = (
    ("price_drop", "target_reached"),
    ("price_drop", "further_drop"),
    ("restock", "restock"),
)

CASES = [
    # (name, mode, target, observations, alerts as (step, kind, reason))
    ("crosses the target once", "price", "80", [obs("100"), obs("90"), obs("80"), obs("79"), obs("78.50")],
     [(2, *DROP)]),
    ("first check after adding alerts", "price", "80", [obs("100"), obs("75")], [(1, *DROP)]),
    ("re-arms after rising above the target", "price", "80",
     [obs("100"), obs("79"), obs("85"), obs("79")], [(1, *DROP), (3, *DROP)]),
    ("a cent up and down at the target is noise", "price", "80",
     [obs("100"), obs("79.99"), obs("80.01"), obs("79.99"), obs("80.01"), obs("79.99")], [(1, *DROP)]),
    ("the same price written differently", "price", "80",
     [obs("100"), obs("79.9"), obs("79.90"), obs("79.9000")], [(1, *DROP)]),
    ("a further 5 % drop alerts again", "price", "80",
     [obs("100"), obs("79"), obs("75.06"), obs("75.05"), obs("75"), obs("71.29")],
     [(1, *DROP), (3, *FURTHER), (5, *FURTHER)]),
    ("a vanishing price is no drop and no re-arm", "price", "80",
     [obs("100"), obs(None, UNKNOWN), obs("79"), obs(None, UNKNOWN), obs("79")], [(2, *DROP)]),
    ("a price in another currency is not compared", "price", "80",
     [obs("100"), obs("70", currency="USD")], []),
    ("a low price while out of stock waits for the restock", "price", "80",
     [obs("100"), obs("70", OUT), obs("70", IN)], [(2, *DROP)]),
    ("unknown availability does not block a price alert", "price", "80",
     [obs("100", UNKNOWN), obs("79", UNKNOWN)], [(1, *DROP)]),
    ("target met when added: only a further drop alerts", "price", "80",
     [obs("75"), obs("75"), obs("72"), obs("71.25"), obs("71")], [(3, *FURTHER)]),
    ("any drop: noise ignored, real drop alerts, back up re-arms", "price", None,
     [obs("100"), obs("99.99"), obs("99.40"), obs("99"), obs("100"), obs("99")],
     [(2, *DROP), (5, *DROP)]),
    ("restock alerts once, then the watch is fulfilled", "stock", None,
     [obs("50", OUT), obs(None, UNKNOWN), obs("50", IN), obs("50", OUT), obs("50", IN)], [(2, *RESTOCK)]),
    ("in stock without a price is no restock", "stock", None,
     [obs(None, OUT), obs(None, IN), obs("50", IN)], [(2, *RESTOCK)]),
    ("a stock watch ignores the price", "stock", None,
     [obs("100", OUT), obs("10", OUT), obs("5", OUT)], []),
    ("a price watch ignores restocks", "price", "80",
     [obs("100", IN), obs("100", OUT), obs("100", IN)], []),
    ("both: a restock at a low price is two alerts", "both", "80",
     [obs("100", OUT), obs("75", IN)], [(1, *DROP), (1, *RESTOCK)]),
    ("both: each rule on its own", "both", "80",
     [obs("100", OUT), obs("100", IN), obs("79", IN), obs("79", OUT), obs("79", IN)],
     [(1, *RESTOCK), (2, *DROP)]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "mode", "target", "steps", "expected"), CASES, ids=[c[0] for c in CASES])
def test_alert_table(
    name: str, mode: str, target: str | None, steps: list[Observation], expected: list
) -> None:
    _, alerts = run(mode, target, steps)
    assert alerts == expected


def test_target_already_met_is_said_at_once_not_alerted() -> None:
    met, alerts = run("price", "80", [obs("75"), obs("75")])
    assert met is True and alerts == []
    met, _ = run("price", "80", [obs("80.01")])
    assert met is False


def test_target_met_on_an_out_of_stock_item_alerts_when_it_is_back() -> None:
    met, alerts = run("both", "80", [obs("75", OUT), obs("75", IN)])
    assert met is False
    assert alerts == [(1, *DROP), (1, *RESTOCK)]


def test_crossings_count_up_for_unique_dedupe_keys() -> None:
    rule = WatchRule("price", Decimal("80"), Decimal("100"))
    memory = WatchMemory()
    crossings = []
    previous = None
    for price in ("79", "90", "79", "90", "79"):
        decision = evaluate(rule, memory, previous, obs(price))
        memory, previous = decision.memory, obs(price)
        crossings += [alert.crossing for alert in decision.alerts]
    assert crossings == [1, 2, 3]


def test_rearming_a_fulfilled_stock_watch_waits_for_the_next_restock() -> None:
    rule = WatchRule("stock", None, None)
    memory, _ = initial_memory(rule, obs(None, OUT))
    decision = evaluate(rule, memory, obs(None, OUT), obs("20", IN))
    assert [a.crossing for a in decision.alerts] == [1]
    assert is_fulfilled("stock", decision.memory)
    memory = rearmed_stock_memory(decision.memory, obs("20", IN))
    assert not is_fulfilled("stock", memory)
    assert evaluate(rule, memory, obs("20", IN), obs("20", IN)).alerts == ()
    memory = evaluate(rule, memory, obs("20", IN), obs(None, OUT)).memory
    second = evaluate(rule, memory, obs(None, OUT), obs("20", IN))
    assert [(a.kind, a.crossing) for a in second.alerts] == [("restock", 2)]


def test_fulfilment_is_only_for_stock_watches() -> None:
    memory = WatchMemory(stock_fulfilled=True)
    assert is_fulfilled("stock", memory)
    assert not is_fulfilled("both", memory)
