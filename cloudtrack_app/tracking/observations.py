"""Recording what a page showed: observation → price history → watch rules → alert events.

A scheduled check and a new watch both end here, so a price is recorded, a rule evaluated
and an alert written the same way whoever read the page. Callers hold the product's lock
(`lock_product`) and their own transaction; nothing here commits or fetches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from cloudtrack_app.models import AlertEvent, AlertKind, DeliveryStatus, PricePoint, Product, Watch
from cloudtrack_app.tracking.deals import deal_in_session
from cloudtrack_app.tracking.event_facts import EventFacts
from cloudtrack_app.tracking.history import needs_point, stats_in_session
from cloudtrack_app.tracking.images import storable_image_url
from cloudtrack_app.tracking.rules import (
    Decision,
    Observation,
    RuleAlert,
    WatchMemory,
    WatchRule,
    evaluate,
    is_fulfilled,
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


def lock_product(session: Session, product_id: int, owner: str | None = None) -> bool:
    """Take the product's row lock (PostgreSQL) or the write lock (SQLite) before reading it.

    Every writer of watch rule memory does this first, so read-modify-write on a watch
    never races with a check of the same product. With `owner`, only if it holds the lease.
    """
    query = sa.update(Product).where(Product.id == product_id)
    if owner is not None:
        query = query.where(Product.lease_owner == owner)
    return session.execute(query.values(id=Product.id)).rowcount == 1


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
    session: Session, product_id: int, currency: str | None, days: int | None, now: datetime
) -> Decimal | None:
    """The lowest price recorded for the product in the `days` before `now` (not at `now`)."""
    if days is None or currency is None:
        return None
    query = select(sa.func.min(PricePoint.price)).where(
        PricePoint.product_id == product_id,
        PricePoint.currency == currency,
        PricePoint.checked_at >= now - timedelta(days=days),
        PricePoint.checked_at < now,
    )
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
) -> int:
    """Store an observation on a locked product: history point, watch memory, alert events.

    Watches are evaluated on a change only: rules are idempotent on a repeated observation,
    and a watch whose memory is set outside a check (new, edited, resumed) is evaluated
    against the current observation there. Returns how many alert events were written.
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
    if current.same_reading(previous):
        return 0
    return evaluate_watches(session, product, _active_watches(session, product), previous, current, now)


def _active_watches(session: Session, product: Product) -> Sequence[Watch]:
    return session.exec(select(Watch).where(Watch.product_id == product.id, Watch.active.is_(True))).all()


def _decisions(
    session: Session,
    product: Product,
    watches: Iterable[Watch],
    previous: Observation | None,
    current: Observation,
    now: datetime,
) -> Iterator[tuple[Watch, WatchMemory, Decision]]:
    """Each watch's rule decision on an observation, next to its memory before it."""
    lows: dict[int | None, Decimal | None] = {}
    for watch in watches:
        memory = memory_of(watch)
        if is_fulfilled(watch.mode, memory):
            continue
        days = watch.lowest_window_days
        if days not in lows:
            assert product.id is not None
            lows[days] = window_lowest(session, product.id, current.currency, days, now)
        yield watch, memory, evaluate(rule_of(watch), memory, previous, current, window_lowest=lows[days])


def alert_kinds_if_recorded(
    session: Session, product: Product, previous: Observation | None, current: Observation, now: datetime
) -> set[str]:
    """The kinds of alert recording `current` would cause on the product's watches; writes nothing."""
    if previous == current:
        return set()
    decisions = _decisions(session, product, _active_watches(session, product), previous, current, now)
    return {alert.kind for _, _, decision in decisions for alert in decision.alerts}


def evaluate_watches(
    session: Session,
    product: Product,
    watches: Iterable[Watch],
    previous: Observation | None,
    current: Observation,
    now: datetime,
) -> int:
    """Run the rules of `watches` on an observation; write their memory and alert events."""
    alerts: list[tuple[Watch, RuleAlert]] = []
    for watch, memory, decision in _decisions(session, product, watches, previous, current, now):
        if decision.memory != memory:
            set_memory(watch, decision.memory)
            session.add(watch)
        alerts.extend((watch, alert) for alert in decision.alerts)
    if not alerts:
        return 0
    session.flush()  # the facts' statistics include this observation's history point
    rows = [
        _event_row(
            session, product, watch, alert.kind, alert.reason, alert.crossing, previous, now, target_met=None
        )
        for watch, alert in alerts
    ]
    return _insert_alert_events(session, rows)


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
) -> dict[str, Any]:
    assert watch.id is not None
    facts = EventFacts.of_alert(
        product,
        watch,
        stats_in_session(session, product, now),
        kind=kind,
        reason=reason,
        crossing=crossing,
        previous=previous,
        now=now,
        target_met=target_met,
        deal=deal_in_session(session, product, now),
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
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    query = (
        insert(AlertEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(AlertEvent.id)
    )
    return len(session.execute(query).all())  # rowcount is not reliable for this on psycopg
