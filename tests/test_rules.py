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
    rule_problem,
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


# --- the rules people ask for: percent drop, lowest in a window, increases ---------------

PERCENT, NEW_LOW, RISE = (
    ("price_drop", "percent_drop"),
    ("price_drop", "lowest_in_window"),
    ("price_increase", "price_increase"),
)


def run_rule(
    rule: WatchRule, steps: list[tuple[Observation, str | None]]
) -> tuple[bool, list[tuple[int, str, str]]]:
    """Like `run`, with each observation's window lowest (the history before it) given."""
    first, first_low = steps[0]
    memory, met = initial_memory(rule, first, window_lowest=Decimal(first_low) if first_low else None)
    alerts = []
    for index in range(1, len(steps)):
        current, low = steps[index]
        decision = evaluate(
            rule, memory, steps[index - 1][0], current, window_lowest=Decimal(low) if low else None
        )
        memory = decision.memory
        alerts += [(index, str(a.kind), a.reason) for a in decision.alerts]
    return met, alerts


def percent(pct: str, increase: bool = False, mode: str = "price") -> WatchRule:
    return WatchRule(mode, None, Decimal("100"), drop_percent=Decimal(pct), notify_increase=increase)


def window(days: int, increase: bool = False) -> WatchRule:
    return WatchRule("price", None, Decimal("100"), lowest_window_days=days, notify_increase=increase)


def increase(target: str | None = None, mode: str = "price") -> WatchRule:
    return WatchRule(mode, Decimal(target) if target else None, Decimal("100"), notify_increase=True)


NEW_RULE_CASES = [
    # (name, rule, [(observation, lowest in the window before it)], target met at once, alerts)
    (
        "a 10 % drop alerts at 90, not at 91",
        percent("10"),
        [(obs("100"), None), (obs("95"), None), (obs("91"), None), (obs("90"), None), (obs("89"), None)],
        False,
        [(3, *PERCENT)],
    ),
    (
        "a percent drop re-arms above its threshold",
        percent("10"),
        [(obs("100"), None), (obs("89"), None), (obs("95"), None), (obs("89"), None)],
        False,
        [(1, *PERCENT), (3, *PERCENT)],
    ),
    (
        "a percent drop is not chased by noise",
        percent("10"),
        [(obs("100"), None), (obs("89.99"), None), (obs("90.01"), None), (obs("89.99"), None)],
        False,
        [(1, *PERCENT)],
    ),
    (
        "a percent drop on an out-of-stock page waits",
        percent("10"),
        [(obs("100"), None), (obs("80", OUT), None), (obs("80"), None)],
        False,
        [(2, *PERCENT)],
    ),
    (
        "a new 90-day low alerts",
        window(90),
        [(obs("100"), "95"), (obs("96"), "95"), (obs("94"), "95"), (obs("93.9"), "94")],
        False,
        [(2, *NEW_LOW)],
    ),
    (
        "a new low already at the start is said at once",
        window(30),
        [(obs("90"), "95"), (obs("89"), "90")],
        True,
        [],
    ),
    (
        "a low re-arms once the price is back above it",
        window(365),
        [(obs("100"), "95"), (obs("94"), "95"), (obs("97"), "94"), (obs("93"), "94")],
        False,
        [(1, *NEW_LOW), (3, *NEW_LOW)],
    ),
    ("no history means no low to beat", window(90), [(obs("100"), None), (obs("50"), None)], False, []),
    (
        "matching the low within noise is no new low",
        window(90),
        [(obs("100"), "95"), (obs("94.60"), "95")],
        False,
        [],
    ),
    (
        "a rise alerts when asked for",
        increase(),
        [(obs("100"), None), (obs("110"), None), (obs("105"), None), (obs("108"), None)],
        False,
        [(1, *RISE), (3, *RISE)],
    ),
    (
        "a rise within noise is not an increase",
        increase(),
        [(obs("100"), None), (obs("100.40"), None)],
        False,
        [],
    ),
    (
        "rises are silent unless asked for",
        WatchRule("price", None, Decimal("100")),
        [(obs("100"), None), (obs("120"), None)],
        False,
        [],
    ),
    (
        "a rise on an out-of-stock page is not told",
        increase(),
        [(obs("100"), None), (obs("120", OUT), None)],
        False,
        [],
    ),
    (
        "a rise into another currency is not compared",
        increase(),
        [(obs("100"), None), (obs("120", currency="USD"), None)],
        False,
        [],
    ),
    (
        "a stock-only watch ignores rises",
        increase(mode="stock"),
        [(obs("100"), None), (obs("120"), None)],
        False,
        [],
    ),
    (
        "target and rise both alert, each once",
        increase("80"),
        [(obs("100"), None), (obs("79"), None), (obs("90"), None), (obs("95"), None)],
        False,
        [(1, *DROP), (2, *RISE), (3, *RISE)],
    ),
    (
        "percent drop and rise together",
        percent("10", increase=True),
        [(obs("100"), None), (obs("85"), None), (obs("101"), None)],
        False,
        [(1, *PERCENT), (2, *RISE)],
    ),
]


@pytest.mark.parametrize(
    ("name", "rule", "steps", "met", "expected"), NEW_RULE_CASES, ids=[c[0] for c in NEW_RULE_CASES]
)
def test_new_rule_table(name: str, rule: WatchRule, steps: list, met: bool, expected: list) -> None:
    assert run_rule(rule, steps) == (met, expected)


def test_increase_crossings_count_up_for_unique_dedupe_keys() -> None:
    rule = increase()
    memory = WatchMemory()
    crossings = []
    for before, after in (("100", "110"), ("110", "100"), ("100", "110")):
        decision = evaluate(rule, memory, obs(before), obs(after))
        memory = decision.memory
        crossings += [a.crossing for a in decision.alerts]
    assert crossings == [1, 2]


@pytest.mark.parametrize(
    ("target", "pct", "days", "problem"),
    [
        (None, None, None, None),
        ("80", None, None, None),
        (None, "10", None, None),
        (None, None, 90, None),
        ("80", "10", None, "Choose one price rule"),
        (None, "10", 30, "Choose one price rule"),
        (None, "0", None, "more than 0 %"),
        (None, "100", None, "at most 99 %"),
        (None, None, 45, "30, 90 or 365 days"),
    ],
)
def test_rule_choices_are_checked_in_plain_words(
    target: str | None, pct: str | None, days: int | None, problem: str | None
) -> None:
    found = rule_problem(Decimal(target) if target else None, Decimal(pct) if pct else None, days)
    assert (found is None) if problem is None else (found is not None and problem in found)
