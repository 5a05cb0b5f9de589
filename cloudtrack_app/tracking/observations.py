"""Recording what a page showed: observation → price history → watch rules → alert events.

A scheduled check and a new watch both end here, so a price is recorded, a rule evaluated
and an alert written the same way whoever read the page. Callers hold the product's lock
(`lock_product`) and their own transaction; nothing here commits or fetches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from cloudtrack_app.models import (
    AlertEvent,
    AlertKind,
    Availability,
    DeliveryStatus,
    PickPoint,
    PricePoint,
    Product,
    Watch,
)
from cloudtrack_app.tracking.deals import DealCheck, deal_in_session
from cloudtrack_app.tracking.event_facts import EventFacts
from cloudtrack_app.tracking.extract import PickedReading
from cloudtrack_app.tracking.history import (
    HistoryPoint,
    ProductStats,
    last_point,
    needs_point,
    stats_in_session,
)
from cloudtrack_app.tracking.images import storable_image_url
from cloudtrack_app.tracking.rules import (
    Decision,
    Observation,
    RuleAlert,
    WatchMemory,
    WatchRule,
    evaluate,
    is_fulfilled,
    rebased_memory,
)

REASON_WATCH_ADDED = "watch_added"
# A confirmation waits for later ones of the same person at most this long after its own.
SUMMARY_MAX_WAIT = timedelta(minutes=5)


class PageDetails(Protocol):
    """What a read page says about its product (an `Extraction`, or ingestion's `Preview`)."""

    title: str | None
    image: str | None
    sku: str | None
    gtin: str | None
    brand: str | None
    availability_raw: str | None
    source: str | None
    confidence: float


def observation_of(product: Product) -> Observation | None:
    if product.last_checked_at is None and product.last_price is None:
        return None
    return Observation(
        product.last_price, product.currency, product.last_availability, product.last_was_price
    )


PRICE_PICKED = "picked"  # the watch's price is its picked element's
PRICE_AUTOMATIC = "automatic"  # the product's own reading


def selector_key(selector: str) -> str:
    """The name of a picked element's price series: watches that picked the same selector share it."""
    return hashlib.sha256(selector.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def series_of(watch: Watch) -> str | None:
    """The price series the watch follows: its picked element's (also while that element is
    gone: the series then holds the automatic readings the watch fell back to), else None."""
    return selector_key(watch.price_selector) if watch.price_selector else None


def pick_in_use(selector: str | None, missing_since: datetime | None, pick_price: Decimal | None) -> bool:
    """Whether a watch follows its picked element now: picked, on the page, and read there."""
    return bool(selector) and missing_since is None and pick_price is not None


def _pick_in_use(watch: Watch) -> bool:
    return pick_in_use(watch.price_selector, watch.pick_missing_since, watch.pick_price)


def watch_price(watch: Watch, product: Product) -> tuple[Decimal | None, str | None, str]:
    """The current price the watch's owner sees: (price, currency, PRICE_PICKED or PRICE_AUTOMATIC).

    Their picked element's price while it is on the page, else the product's own reading.
    """
    if _pick_in_use(watch):
        return watch.pick_price, watch.pick_currency or product.currency, PRICE_PICKED
    return product.last_price, product.currency, PRICE_AUTOMATIC


def watch_observation(watch: Watch, automatic: Observation | None) -> Observation | None:
    """What the watch sees when the product's reading is `automatic`: its picked price with
    the product's availability while the pick is in use, else the automatic reading."""
    if not _pick_in_use(watch):
        return automatic
    availability = automatic.availability if automatic is not None else Availability.UNKNOWN
    return Observation(watch.pick_price, watch.pick_currency, availability)


def lock_product(session: Session, product_id: int, owner: str | None = None) -> bool:
    """Take the product's row lock (PostgreSQL) or the write lock (SQLite) before reading it.

    Every writer of watch rule memory does this first, so read-modify-write on a watch
    never races with a check of the same product. With `owner`, only if it holds the lease.
    """
    # On the connection, not as an ORM statement: that would also match the statement against
    # every object the session holds, and this one changes no column.
    connection = session.connection()
    if owner is None:
        return connection.execute(_LOCK, {"l_id": product_id}).rowcount == 1
    return connection.execute(_LOCK_LEASED, {"l_id": product_id, "l_owner": owner}).rowcount == 1


# Built once (a check locks every product it records): building a statement costs more than running it.
_LOCK = sa.update(Product).where(Product.id == sa.bindparam("l_id")).values(id=Product.id)
_LOCK_LEASED = _LOCK.where(Product.lease_owner == sa.bindparam("l_owner"))


def apply_page_details(product: Product, details: PageDetails) -> None:
    """Copy what the page says onto the product, cut to the columns' sizes."""
    product.title = (details.title or product.title or "")[:500] or None
    image_url = storable_image_url(details.image)
    if image_url is not None:
        product.image_url = image_url
    product.sku = (details.sku or product.sku or "")[:120] or None
    product.gtin = (details.gtin or product.gtin or "")[:32] or None
    product.brand = (details.brand or product.brand or "")[:200] or None
    product.availability_raw = (details.availability_raw or "")[:40] or None
    product.extraction_source = details.source
    product.extraction_confidence = details.confidence


def mark_read(product: Product, etag: str | None, last_modified: str | None, now: datetime) -> None:
    """The page was read: keep its validators for the next conditional request, clear failures."""
    product.etag = (etag or "")[:500] or None
    product.last_modified = (last_modified or "")[:100] or None
    product.consecutive_failures = 0
    product.failing = False
    product.last_error = None
    product.problem = None
    product.last_good_at = now


def memory_of(watch: Watch) -> WatchMemory:
    return WatchMemory(
        price_armed=watch.price_armed,
        last_alerted_price=watch.last_alerted_price,
        price_crossings=watch.price_crossings,
        seen_out_of_stock=watch.seen_out_of_stock,
        stock_fulfilled=watch.stock_fulfilled,
        restock_count=watch.restock_count,
        increase_count=watch.increase_count,
    )


def rule_of(watch: Watch) -> WatchRule:
    return WatchRule(
        watch.mode,
        watch.target_price,
        watch.initial_price,
        drop_percent=watch.drop_percent,
        lowest_window_days=watch.lowest_window_days,
        notify_increase=watch.notify_increase,
    )


def window_lowest(
    session: Session,
    product_id: int,
    currency: str | None,
    days: int | None,
    now: datetime,
    selector_key: str | None = None,
) -> Decimal | None:
    """The lowest price recorded for the product in the `days` before `now` (not at `now`),
    in its automatic series or in a picked element's (`selector_key`)."""
    if days is None or currency is None:
        return None
    table: type[PricePoint] | type[PickPoint] = PricePoint if selector_key is None else PickPoint
    query = select(sa.func.min(table.price)).where(
        table.product_id == product_id,
        table.currency == currency,
        table.checked_at >= now - timedelta(days=days),
        table.checked_at < now,
    )
    if selector_key is not None:
        query = query.where(PickPoint.selector_key == selector_key)
    return session.exec(query).one()


def set_memory(watch: Watch, memory: WatchMemory) -> None:
    watch.price_armed = memory.price_armed
    watch.last_alerted_price = memory.last_alerted_price
    watch.price_crossings = memory.price_crossings
    watch.seen_out_of_stock = memory.seen_out_of_stock
    watch.stock_fulfilled = memory.stock_fulfilled
    watch.restock_count = memory.restock_count
    watch.increase_count = memory.increase_count


def record_observation(
    session: Session,
    product: Product,
    previous: Observation | None,
    previous_check_at: datetime | None,
    current: Observation,
    now: datetime,
    picked: Mapping[str, PickedReading | None] | None = None,
) -> int:
    """Store an observation on a locked product: history point, watch memory, alert events.

    Watches are evaluated on a change only: rules are idempotent on a repeated observation,
    and a watch whose memory is set outside a check (new, edited, resumed) is evaluated
    against the current observation there. Watches with a picked price are evaluated on
    their own (`picks.record_picks`), with what their selectors read on this page
    (`picked`; None when the page was not read for them). Returns how many alert events
    were written.
    """
    assert product.id is not None
    if not current.same_reading(previous):
        product.last_changed_at = now
    product.last_price = current.price
    product.last_was_price = current.was_price
    product.currency = current.currency or product.currency
    product.last_availability = current.availability
    if needs_point(previous, previous_check_at, current, now):
        session.add(
            PricePoint(
                product_id=product.id,
                checked_at=now,
                price=current.price,
                was_price=current.was_price,
                currency=current.currency,
                availability=current.availability,
            )
        )
    session.add(product)
    alerts = 0
    picking: Sequence[Watch] = ()
    if not current.same_reading(previous):
        watches = _active_watches(session, product, picked=None)
        automatic = [watch for watch in watches if watch.price_selector is None]
        picking = [watch for watch in watches if watch.price_selector is not None]
        alerts += evaluate_watches(session, product, automatic, previous, current, now)
    elif _has_picked_watch(session, product):
        picking = _active_watches(session, product, picked=True)
    # Picked prices move on their own, and their series need their daily points too.
    alerts += record_picks(session, product, picking, previous, previous_check_at, current, now, picked)
    return alerts


_ACTIVE_WATCHES = select(Watch).where(Watch.product_id == sa.bindparam("w_product"), Watch.active.is_(True))
_ACTIVE_WATCHES_PICKED = _ACTIVE_WATCHES.where(Watch.price_selector.is_not(None))
_ACTIVE_WATCHES_AUTOMATIC = _ACTIVE_WATCHES.where(Watch.price_selector.is_(None))
# Most products have no pick: asking costs a fraction of loading watches to find none.
_ANY_PICKED_WATCH = (
    sa.select(Watch.id)
    .where(
        Watch.product_id == sa.bindparam("w_product"),
        Watch.active.is_(True),
        Watch.price_selector.is_not(None),
    )
    .limit(1)
)


def _active_watches(session: Session, product: Product, *, picked: bool | None) -> Sequence[Watch]:
    """The product's active watches that follow a picked element (`picked`), its own reading
    (not `picked`), or either (None)."""
    query = (
        _ACTIVE_WATCHES if picked is None else _ACTIVE_WATCHES_PICKED if picked else _ACTIVE_WATCHES_AUTOMATIC
    )
    return session.exec(query, params={"w_product": product.id}).all()


def _has_picked_watch(session: Session, product: Product) -> bool:
    """Whether an active watch of the product follows a picked element (a pick may be made
    while the product is checked, so the claim's selectors cannot say)."""
    return session.connection().execute(_ANY_PICKED_WATCH, {"w_product": product.id}).first() is not None


def _decisions(
    session: Session,
    product: Product,
    watches: Iterable[Watch],
    previous: Observation | None,
    current: Observation,
    now: datetime,
) -> Iterator[tuple[Watch, WatchMemory, Decision]]:
    """Each watch's rule decision on an observation, next to its memory before it."""
    lows: dict[tuple[int | None, str | None], Decimal | None] = {}
    for watch in watches:
        memory = memory_of(watch)
        if is_fulfilled(watch.mode, memory):
            continue
        days, series = watch.lowest_window_days, series_of(watch)
        if (days, series) not in lows:
            assert product.id is not None
            lows[days, series] = window_lowest(session, product.id, current.currency, days, now, series)
        decision = evaluate(rule_of(watch), memory, previous, current, window_lowest=lows[days, series])
        yield watch, memory, decision


def alert_kinds_if_recorded(
    session: Session, product: Product, previous: Observation | None, current: Observation, now: datetime
) -> set[str]:
    """The kinds of alert recording `current` would cause on the watches that follow the
    product's own reading (a picked price is not this reading); writes nothing."""
    if previous == current:
        return set()
    watches = _active_watches(session, product, picked=False)
    decisions = _decisions(session, product, watches, previous, current, now)
    return {alert.kind for _, _, decision in decisions for alert in decision.alerts}


def evaluate_watches(
    session: Session,
    product: Product,
    watches: Iterable[Watch],
    previous: Observation | None,
    current: Observation,
    now: datetime,
) -> int:
    """Run the rules of `watches` on an observation; write their memory and alert events.

    The observation is the one the watches see: the product's automatic reading, or for
    a watch with a picked price its own (`watch_observation`).
    """
    alerts: list[tuple[Watch, RuleAlert]] = []
    for watch, memory, decision in _decisions(session, product, watches, previous, current, now):
        if decision.memory != memory:
            set_memory(watch, decision.memory)
            session.add(watch)
        alerts.extend((watch, alert) for alert in decision.alerts)
    if not alerts:
        return 0
    session.flush()  # the facts' statistics include this observation's history point
    sources = _FactSources(session, product, now)
    rows = [
        _event_row(
            session,
            product,
            watch,
            alert.kind,
            alert.reason,
            alert.crossing,
            previous,
            now,
            target_met=None,
            sources=sources,
        )
        for watch, alert in alerts
    ]
    return _insert_alert_events(session, rows)


def record_picks(
    session: Session,
    product: Product,
    watches: Sequence[Watch],
    previous: Observation | None,
    previous_check_at: datetime | None,
    current: Observation,
    now: datetime,
    picked: Mapping[str, PickedReading | None] | None,
) -> int:
    """Evaluate watches with a picked price on what their own selectors read (`picked`, from
    the same parsed page as `current`), and keep their elements' price series.

    A selector that matches nothing marks the watch `pick_missing_since` ("the page layout
    changed") and the watch falls back to the automatic reading; when it matches again the
    mark clears. Neither switch alerts: the watch's price rule is re-based on the reading
    it switches to. A selector absent from `picked` (the page was not read for it) leaves
    the pick as it was; only the product's availability reaches the watch then.
    """
    alerts = 0
    recorded: set[str] = set()
    for watch in watches:
        assert watch.price_selector is not None
        before = watch_observation(watch, previous)
        was_missing = watch.pick_missing_since is not None
        missing = was_missing
        if picked is not None and watch.price_selector in picked:
            reading = picked[watch.price_selector]
            missing = reading is None
            if reading is not None:
                watch.pick_price = reading.price
                code = reading.currency if reading.currency and len(reading.currency) == 3 else None
                watch.pick_currency = code or watch.pick_currency or current.currency
        watch.pick_missing_since = (watch.pick_missing_since or now) if missing else None
        after = watch_observation(watch, current)
        assert after is not None
        series = selector_key(watch.price_selector)
        if series not in recorded:
            recorded.add(series)
            record_pick_point(session, product, series, previous_check_at, after, now)
        if missing != was_missing:
            rebase_watch(session, product, watch, after, now)
            # Only what else changed (the stock) is news to the watch's rules.
            before = replace(after, availability=before.availability) if before is not None else None
        session.add(watch)
        if before != after:
            alerts += evaluate_watches(session, product, [watch], before, after, now)
    return alerts


def record_pick_point(
    session: Session,
    product: Product,
    series: str,
    previous_check_at: datetime | None,
    seen: Observation,
    now: datetime,
) -> None:
    """Write `seen` to the picked element's series when it is news there (see `needs_point`)."""
    assert product.id is not None
    last: HistoryPoint | None = last_point(session, product.id, series)
    before = Observation(last.price, last.currency, last.availability) if last is not None else None
    if needs_point(before, previous_check_at, seen, now):
        session.add(
            PickPoint(
                product_id=product.id,
                selector_key=series,
                checked_at=now,
                price=seen.price,
                currency=seen.currency,
                availability=seen.availability,
            )
        )


def rebase_watch(session: Session, product: Product, watch: Watch, seen: Observation, now: datetime) -> None:
    """Start the watch's price rule afresh at `seen` without an alert: its price switched to
    another reading (a pick set or cleared, a picked element gone or back). A watch without
    a target measures its drops from this price on."""
    assert product.id is not None
    if watch.target_price is None and seen.price is not None:
        watch.initial_price = seen.price
    low = window_lowest(session, product.id, seen.currency, watch.lowest_window_days, now, series_of(watch))
    set_memory(watch, rebased_memory(rule_of(watch), memory_of(watch), seen, window_lowest=low))
    session.add(watch)


def queue_confirmation(
    session: Session,
    product: Product,
    watch: Watch,
    target_met: bool,
    now: datetime,
    *,
    hold: timedelta = timedelta(0),
) -> int:
    """Write the "now watching" event of a new, flushed watch (1, or 0 if it exists).

    With a `hold`, it is due only after it, and the person's other confirmations still
    waiting (not yet taken by the dispatcher) wait as long again, so a batch of new
    watches becomes due at once and the dispatcher sends one summary for it.
    """
    if hold:
        waiting = (
            sa.update(AlertEvent)
            .where(
                AlertEvent.user_id == watch.user_id,
                AlertEvent.kind == AlertKind.CONFIRMATION,
                AlertEvent.status == DeliveryStatus.PENDING,
                AlertEvent.subject.is_(None),  # type: ignore[union-attr]
                AlertEvent.lease_owner.is_(None),  # type: ignore[union-attr]
                AlertEvent.created_at > now - SUMMARY_MAX_WAIT,
            )
            .values(next_attempt_at=now + hold)
        )
        session.execute(waiting)
    row = _event_row(
        session,
        product,
        watch,
        AlertKind.CONFIRMATION,
        REASON_WATCH_ADDED,
        1,
        None,
        now,
        target_met=target_met,
    )
    row["next_attempt_at"] = now + hold
    return _insert_alert_events(session, [row])


class _FactSources:
    """The history an alert's facts quote, read once for all alerts of one observation: the
    product's watches share its series (or their picked element's) and its deal."""

    def __init__(self, session: Session, product: Product, now: datetime) -> None:
        self.session = session
        self.product = product
        self.now = now
        self._stats: dict[tuple[str | None, Observation | None], ProductStats] = {}
        self._deal: tuple[DealCheck | None] | None = None

    def stats(self, series: str | None, seen: Observation | None) -> ProductStats:
        if (series, seen) not in self._stats:
            self._stats[series, seen] = stats_in_session(
                self.session, self.product, self.now, selector_key=series, current=seen
            )
        return self._stats[series, seen]

    def deal(self) -> DealCheck | None:
        if self._deal is None:
            self._deal = (deal_in_session(self.session, self.product, self.now),)
        return self._deal[0]


def _event_row(
    session: Session,
    product: Product,
    watch: Watch,
    kind: str,
    reason: str,
    crossing: int,
    previous: Observation | None,
    now: datetime,
    *,
    target_met: bool | None,
    sources: _FactSources | None = None,
) -> dict[str, Any]:
    assert watch.id is not None
    sources = sources or _FactSources(session, product, now)
    series = series_of(watch)
    seen = watch_observation(watch, observation_of(product)) if series else None
    facts = EventFacts.of_alert(
        product,
        watch,
        sources.stats(series, seen),
        kind=kind,
        reason=reason,
        crossing=crossing,
        previous=previous,
        now=now,
        target_met=target_met,
        deal=sources.deal(),
        current=seen,
    )
    return {
        "watch_id": watch.id,
        "user_id": watch.user_id,
        "product_id": product.id,
        "kind": str(kind),
        "dedupe_key": _dedupe_key(watch.id, kind, crossing),
        "created_at": now,
        "next_attempt_at": now,
        "facts": facts.to_json(),
    }


def _dedupe_key(watch_id: int, kind: str, crossing: int | str) -> str:
    return f"watch:{watch_id}:{kind}:{crossing}"


def _insert_alert_events(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert alert events, skipping any whose dedupe key exists; how many were new."""
    if not rows:
        return 0
    session.flush()  # the events' watches and product as this session left them
    query = _INSERT_EVENTS[session.get_bind().dialect.name == "postgresql"]
    # One statement built and compiled once, run for all rows (a multi-row VALUES is compiled
    # anew for every row count); rowcount is not reliable for this on psycopg.
    return len(session.connection().execute(query, rows).all())


_INSERT_EVENTS = {
    on_postgresql: insert(AlertEvent)
    .on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(AlertEvent.id)
    for on_postgresql, insert in ((True, postgresql.insert), (False, sqlite.insert))
}
