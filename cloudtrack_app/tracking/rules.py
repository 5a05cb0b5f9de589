"""Alert decisions: pure functions from (what the user asked, rule memory, observations) to alerts.

Price rule
    A watch alerts when the price is at or below its threshold, once per crossing. The
    threshold is the target price; for a "drop of at least X %" watch, the price when
    watching began less X %; for a "lowest in the last N days" watch, the lowest price
    recorded in the N days before this observation, less the noise margin (no history, no
    threshold); for an "any drop" watch (none of these), the price when watching began,
    less the noise margin. After alerting, the watch re-arms once the price
    is back at or above threshold + noise margin, and alerts again meanwhile only if the price
    falls a further `step` (default 5 %) below the last alerted price. The noise margin is
    max(1 cent, 0.5 % of the threshold), so a cent up and down never alerts twice. A price
    on an out-of-stock page never alerts (it alerts when the item is buyable again, if the
    watch is still armed). A missing price, or a price in another currency than the
    previous observation, changes nothing (the checker reports a page that switched
    currency as failing, so a target is only ever compared with prices in its currency).

Increase rule (opt-in)
    A price at least the noise margin above the previous observation's, in the same
    currency and not on an out-of-stock page, alerts once: each rise is its own crossing.

Stock rule
    Seeing the item out of stock arms the rule; an in-stock observation with a price then
    alerts once (unknown availability in between keeps it armed) and fulfils the watch,
    until the user re-arms it. An in-stock page without a price is no restock.

A `both` watch runs each rule on its own; a `price` watch ignores stock and vice versa.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from cloudtrack_app.models import LOWEST_WINDOWS, AlertKind, Availability, WatchMode

FURTHER_DROP_STEP = Decimal("0.05")
NOISE_RATIO = Decimal("0.005")
NOISE_MIN = Decimal("0.01")

REASON_TARGET_REACHED = "target_reached"
REASON_FURTHER_DROP = "further_drop"
REASON_RESTOCK = "restock"
REASON_PERCENT_DROP = "percent_drop"
REASON_LOWEST_IN_WINDOW = "lowest_in_window"
REASON_PRICE_INCREASE = "price_increase"
MAX_DROP_PERCENT = Decimal("99")


@dataclass(frozen=True)
class Observation:
    """What one check saw on the product page."""

    price: Decimal | None
    currency: str | None
    availability: str = Availability.UNKNOWN


@dataclass(frozen=True)
class WatchRule:
    """What the user asked for; no target, percent or window on a price watch means "any drop"."""

    mode: str
    target_price: Decimal | None
    initial_price: Decimal | None
    drop_percent: Decimal | None = None
    lowest_window_days: int | None = None
    notify_increase: bool = False


@dataclass(frozen=True)
class WatchMemory:
    """The rule state kept on the `Watch` row between checks."""

    price_armed: bool = True
    last_alerted_price: Decimal | None = None
    price_crossings: int = 0
    seen_out_of_stock: bool = False
    stock_fulfilled: bool = False
    restock_count: int = 0
    increase_count: int = 0


@dataclass(frozen=True)
class RuleAlert:
    kind: AlertKind
    reason: str
    crossing: int  # 1, 2, 3 … per kind and watch: the dedupe key's last part
    price: Decimal | None


@dataclass(frozen=True)
class Decision:
    memory: WatchMemory
    alerts: tuple[RuleAlert, ...] = ()


def noise_margin(amount: Decimal) -> Decimal:
    return max(NOISE_MIN, abs(amount) * NOISE_RATIO)


def rule_problem(
    target_price: Decimal | None, drop_percent: Decimal | None, lowest_window_days: int | None
) -> str | None:
    """Why these price rule choices cannot be kept, in the app's words; None when they can."""
    chosen = [value for value in (target_price, drop_percent, lowest_window_days) if value is not None]
    if len(chosen) > 1:
        return "Choose one price rule: a target, a drop of at least some percent, or a new lowest price."
    if drop_percent is not None and not (0 < drop_percent <= MAX_DROP_PERCENT):
        return f"The drop must be more than 0 % and at most {MAX_DROP_PERCENT} %."
    if lowest_window_days is not None and lowest_window_days not in LOWEST_WINDOWS:
        return "The lowest price can be looked up over the last 30, 90 or 365 days."
    return None


def price_threshold(rule: WatchRule, window_lowest: Decimal | None = None) -> Decimal | None:
    """The price at or below which a price watch alerts (None: nothing to compare with)."""
    if rule.target_price is not None:
        return rule.target_price
    if rule.lowest_window_days is not None:
        return None if window_lowest is None else window_lowest - noise_margin(window_lowest)
    if rule.initial_price is None:
        return None
    if rule.drop_percent is not None:
        return rule.initial_price * (1 - rule.drop_percent / 100)
    return rule.initial_price - noise_margin(rule.initial_price)


def _met_reason(rule: WatchRule) -> str:
    if rule.target_price is None and rule.lowest_window_days is not None:
        return REASON_LOWEST_IN_WINDOW
    if rule.target_price is None and rule.drop_percent is not None:
        return REASON_PERCENT_DROP
    return REASON_TARGET_REACHED


def _same_currency(previous: Observation | None, current: Observation) -> bool:
    return not (
        previous is not None
        and previous.currency
        and current.currency
        and previous.currency != current.currency
    )


def watches_price(mode: str) -> bool:
    return mode in (WatchMode.PRICE, WatchMode.BOTH)


def watches_stock(mode: str) -> bool:
    return mode in (WatchMode.STOCK, WatchMode.BOTH)


def _price_rule(
    rule: WatchRule,
    memory: WatchMemory,
    previous: Observation | None,
    current: Observation,
    step: Decimal,
    window_lowest: Decimal | None,
) -> Decision:
    threshold = price_threshold(rule, window_lowest)
    price = current.price
    if not watches_price(rule.mode) or threshold is None or price is None:
        return Decision(memory)
    if not _same_currency(previous, current):
        return Decision(memory)
    if price >= threshold + noise_margin(threshold):
        return Decision(replace(memory, price_armed=True))
    if price > threshold or current.availability == Availability.OUT_OF_STOCK:
        return Decision(memory)
    if memory.price_armed:
        reason = _met_reason(rule)
    elif memory.last_alerted_price is not None and price <= memory.last_alerted_price * (1 - step):
        reason = REASON_FURTHER_DROP
    else:
        return Decision(memory)
    crossing = memory.price_crossings + 1
    memory = replace(memory, price_armed=False, last_alerted_price=price, price_crossings=crossing)
    return Decision(memory, (RuleAlert(AlertKind.PRICE_DROP, reason, crossing, price),))


def _increase_rule(
    rule: WatchRule, memory: WatchMemory, previous: Observation | None, current: Observation
) -> Decision:
    if not (rule.notify_increase and watches_price(rule.mode)) or previous is None:
        return Decision(memory)
    price, before = current.price, previous.price
    if price is None or before is None or not _same_currency(previous, current):
        return Decision(memory)
    if current.availability == Availability.OUT_OF_STOCK or price < before + noise_margin(before):
        return Decision(memory)
    count = memory.increase_count + 1
    memory = replace(memory, increase_count=count)
    return Decision(memory, (RuleAlert(AlertKind.PRICE_INCREASE, REASON_PRICE_INCREASE, count, price),))


def _stock_rule(rule: WatchRule, memory: WatchMemory, current: Observation) -> Decision:
    if not watches_stock(rule.mode):
        return Decision(memory)
    if current.availability == Availability.OUT_OF_STOCK:
        return Decision(replace(memory, seen_out_of_stock=True))
    if current.availability != Availability.IN_STOCK or current.price is None:
        return Decision(memory)
    if not memory.seen_out_of_stock or memory.stock_fulfilled:
        return Decision(memory)
    count = memory.restock_count + 1
    memory = replace(memory, seen_out_of_stock=False, stock_fulfilled=True, restock_count=count)
    return Decision(memory, (RuleAlert(AlertKind.RESTOCK, REASON_RESTOCK, count, current.price),))


def evaluate(
    rule: WatchRule,
    memory: WatchMemory,
    previous: Observation | None,
    current: Observation,
    *,
    step: Decimal = FURTHER_DROP_STEP,
    window_lowest: Decimal | None = None,
) -> Decision:
    """The watch's new memory and the alerts this observation causes.

    `window_lowest` is the lowest price recorded in the watch's window before this
    observation (only a "lowest in the last N days" watch uses it).
    """
    priced = _price_rule(rule, memory, previous, current, step, window_lowest)
    rose = _increase_rule(rule, priced.memory, previous, current)
    stocked = _stock_rule(rule, rose.memory, current)
    return Decision(stocked.memory, priced.alerts + rose.alerts + stocked.alerts)


def initial_memory(
    rule: WatchRule, current: Observation, *, window_lowest: Decimal | None = None
) -> tuple[WatchMemory, bool]:
    """Memory for a new watch, and whether its target is already met.

    A target met when the watch is created is said at once (in the confirmation), so it is
    recorded as alerted without an alert of its own; the next alert needs a re-arm or a
    further drop.
    """
    decision = evaluate(rule, WatchMemory(), None, current, window_lowest=window_lowest)
    target_met = any(alert.kind == AlertKind.PRICE_DROP for alert in decision.alerts)
    return replace(decision.memory, price_crossings=0), target_met


def rebased_memory(
    rule: WatchRule, memory: WatchMemory, current: Observation, *, window_lowest: Decimal | None = None
) -> WatchMemory:
    """Price rule memory started afresh at `current`, as if the watch began there: a rule it
    already meets counts as alerted, without an alert. Counters and stock memory are kept.

    For a watch whose price switches to another reading (its picked element, or the
    automatic price while that element is gone): the switch itself is no price move.
    """
    fresh, _ = initial_memory(rule, current, window_lowest=window_lowest)
    return replace(memory, price_armed=fresh.price_armed, last_alerted_price=fresh.last_alerted_price)


def rearmed_stock_memory(memory: WatchMemory, current: Observation) -> WatchMemory:
    """Memory after the user asks to be told about the next restock again."""
    out_now = current.availability == Availability.OUT_OF_STOCK
    return replace(memory, stock_fulfilled=False, seen_out_of_stock=out_now)


def is_fulfilled(mode: str, memory: WatchMemory) -> bool:
    """A stock-only watch that has alerted has nothing left to wait for."""
    return mode == WatchMode.STOCK and memory.stock_fulfilled
