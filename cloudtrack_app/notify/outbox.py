"""The outbox's bookkeeping: which alert events are due, who holds them, what each attempt did.

Every step is one short synchronous transaction (`dispatch` runs them in a thread), and
every write checks the event's lease first, so a worker that lost an event to another
changes nothing. Due events are claimed with `UPDATE … WHERE id IN (SELECT … FOR UPDATE
SKIP LOCKED) … RETURNING`, so several workers never take the same event.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from cloudtrack_app.db import get_engine, session_scope
from cloudtrack_app.models import AlertDelivery, AlertEvent, AlertKind, DeliveryStatus, User, Watch, utcnow
from cloudtrack_app.notify.channels import channel_error_column
from cloudtrack_app.notify.compose import ComposedMessage

ERROR_MAX_CHARS = 1000
RECORD_ATTEMPTS = 3
RECORD_PAUSE_SECONDS = 0.5
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


@dataclass
class ClaimedEvent:
    """An event this worker holds, with what sending it needs."""

    event: AlertEvent
    user: User | None
    watch_active: bool
    deliveries: list[AlertDelivery]


@dataclass(frozen=True)
class AttemptResult:
    """What one send attempt leaves in the database."""

    status: DeliveryStatus
    error: str | None = None
    provider_id: str | None = None
    next_attempt_at: datetime | None = None
    channel_error: str | None = None  # shown in settings until a send succeeds


def claim_events(
    now: datetime, limit: int, owner: str, lease_seconds: int, *, event_id: int | None = None
) -> list[int]:
    due = (
        select(AlertEvent.id)
        .where(
            AlertEvent.status == DeliveryStatus.PENDING,
            AlertEvent.next_attempt_at <= now,
            sa.or_(AlertEvent.lease_until.is_(None), AlertEvent.lease_until < now),  # type: ignore[union-attr]
        )
        .order_by(AlertEvent.next_attempt_at, AlertEvent.id)  # type: ignore[arg-type]
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if event_id is not None:
        due = due.where(AlertEvent.id == event_id)
    claim = (
        sa.update(AlertEvent)
        .where(AlertEvent.id.in_(due.scalar_subquery()))  # type: ignore[union-attr]
        .values(lease_until=now + timedelta(seconds=lease_seconds), lease_owner=owner)
        .returning(AlertEvent.id)
    )
    with session_scope() as db:
        return sorted(db.execute(claim).scalars().all())


def _holds_lease(db: Session, event_id: int, owner: str) -> AlertEvent | None:
    event = db.get(AlertEvent, event_id)
    return event if event is not None and event.lease_owner == owner else None


def load_claimed(event_id: int, owner: str, lease_until: datetime) -> ClaimedEvent | None:
    """The event with its person and deliveries, its lease renewed as its turn comes."""
    with session_scope() as db:
        event = _holds_lease(db, event_id, owner)
        if event is None:
            return None
        event.lease_until = lease_until
        user = db.get(User, event.user_id)
        watch = db.get(Watch, event.watch_id) if event.watch_id is not None else None
        deliveries = list(
            db.exec(
                select(AlertDelivery).where(AlertDelivery.event_id == event_id).order_by(AlertDelivery.id)
            )
        )
        return ClaimedEvent(
            event=event,
            user=user,
            watch_active=watch.active if watch is not None else event.watch_id is None,
            deliveries=deliveries,
        )


def save_composition(
    event_id: int, owner: str, message: ComposedMessage, channels: list[str]
) -> list[AlertDelivery] | None:
    """Store the composed text and one delivery per channel, atomically; None if the lease was lost."""
    with session_scope() as db:
        event = _holds_lease(db, event_id, owner)
        if event is None:
            return None
        event.subject = message.subject
        event.body = message.body
        event.ai_used = message.ai_used
        event.fallback_reason = message.fallback_reason[:300] if message.fallback_reason else None
        deliveries = [
            AlertDelivery(
                event_id=event_id,
                channel=name,
                idempotency_key=f"cloudtrack-{event_id}-{name}-{secrets.token_hex(12)}",
                next_attempt_at=event.next_attempt_at,
            )
            for name in channels
        ]
        db.add_all(deliveries)
        db.flush()
        return deliveries


def start_attempt(delivery_id: int, owner: str, subject: str, body: str) -> bool:
    """Write down "sending", with the lease it is sent under, before anything leaves."""
    with session_scope() as db:
        delivery = db.get(AlertDelivery, delivery_id)
        event = _holds_lease(db, delivery.event_id, owner) if delivery is not None else None
        if delivery is None or event is None:
            return False
        delivery.status = DeliveryStatus.SENDING
        delivery.lease_until = event.lease_until
        delivery.attempts += 1
        delivery.subject = subject[:300]
        delivery.body = body
        return True


def record_sent(delivery_id: int, provider_id: str | None) -> None:
    """Mark a delivery sent: the one database write between a provider accepting a message
    and CloudTrack knowing it, so nothing else there can fail or be interrupted.

    A kill before this write commits leaves the delivery "sending", and it is sent again
    once the lease expires: e-mail with the same idempotency key (Resend answers with the
    first e-mail, nothing more is sent; SMTP carries it as the Message-ID of a second copy),
    Telegram without one (its Bot API has none).
    Every other consequence of the send (the channel error shown in settings, the event's
    status) is written afterwards: losing those re-sends nothing.
    """
    mark_sent = (
        sa.update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id, AlertDelivery.status == DeliveryStatus.SENDING)  # type: ignore[arg-type]
        .values(
            status=DeliveryStatus.SENT,
            provider_id=provider_id[:200] if provider_id else None,
            sent_at=utcnow(),
            error=None,
            lease_until=None,
        )
    )
    for attempt in range(RECORD_ATTEMPTS):
        try:
            with get_engine().begin() as connection:
                connection.execute(mark_sent)
            return
        except OperationalError:
            # The database was busy or the connection dropped: the message is out, so keep
            # trying to write it down rather than let a retry send it again.
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            time.sleep(RECORD_PAUSE_SECONDS * (attempt + 1))


def clear_channel_error(user_id: int, channel: str) -> None:
    """A send succeeded: stop showing the channel's last lasting failure in settings."""
    column = channel_error_column(channel)
    if not hasattr(User, column):
        return
    with get_engine().begin() as connection:
        connection.execute(
            sa.update(User)
            .where(User.id == user_id, getattr(User, column).is_not(None))  # type: ignore[arg-type]
            .values({column: None})
        )


def finish_attempt(delivery_id: int, result: AttemptResult, user_id: int | None) -> None:
    """Record one attempt; a success clears the person's channel error, a lasting failure sets it."""
    with session_scope() as db:
        delivery = db.get(AlertDelivery, delivery_id)
        if delivery is None:
            return
        delivery.status = result.status
        delivery.error = result.error[:ERROR_MAX_CHARS] if result.error else None
        if result.provider_id is not None:
            delivery.provider_id = result.provider_id[:200]
        if result.status == DeliveryStatus.SENT:
            delivery.sent_at = utcnow()
        if result.next_attempt_at is not None:
            delivery.next_attempt_at = result.next_attempt_at
        user = db.get(User, user_id) if user_id is not None else None
        column = channel_error_column(delivery.channel)
        if user is not None and hasattr(user, column):
            if result.status == DeliveryStatus.SENT:
                setattr(user, column, None)
            elif result.channel_error:
                setattr(user, column, result.channel_error[:500])


def finish_event(event_id: int, owner: str) -> str | None:
    """Settle the event from its deliveries and release the lease; returns its status."""
    with session_scope() as db:
        event = _holds_lease(db, event_id, owner)
        if event is None:
            return None
        deliveries = list(db.exec(select(AlertDelivery).where(AlertDelivery.event_id == event_id)))
        waiting = [d for d in deliveries if d.status in WAITING]
        statuses = {d.status for d in deliveries}
        if waiting:
            event.next_attempt_at = min(d.next_attempt_at for d in waiting)
        elif DeliveryStatus.SENT in statuses:
            event.status = DeliveryStatus.SENT
        elif DeliveryStatus.FAILED in statuses:
            event.status = DeliveryStatus.FAILED
        else:
            event.status = DeliveryStatus.SKIPPED
        event.lease_until = None
        event.lease_owner = None
        return event.status


def confirmation_batches(event_ids: list[int], owner: str) -> dict[int, list[int]]:
    """The held, not yet composed confirmations among `event_ids`, two or more per person.

    Keyed by the first event of each person's batch, which is sent as the summary; the
    list holds the batch's other events, in order.
    """
    query = (
        select(AlertEvent.id, AlertEvent.user_id)
        .where(
            AlertEvent.id.in_(event_ids),  # type: ignore[union-attr]
            AlertEvent.kind == AlertKind.CONFIRMATION,
            AlertEvent.subject.is_(None),  # type: ignore[union-attr]
            AlertEvent.lease_owner == owner,
        )
        .order_by(AlertEvent.id)  # type: ignore[arg-type]
    )
    per_user: dict[int, list[int]] = {}
    with session_scope() as db:
        for event_id, user_id in db.exec(query):
            per_user.setdefault(user_id, []).append(event_id)
    return {ids[0]: ids[1:] for ids in per_user.values() if len(ids) > 1}


def held_events(event_ids: list[int], owner: str) -> list[AlertEvent]:
    """Those of `event_ids` this worker still holds and has not composed."""
    with session_scope() as db:
        found = db.exec(
            select(AlertEvent)
            .where(AlertEvent.id.in_(event_ids), AlertEvent.subject.is_(None))  # type: ignore[union-attr]
            .order_by(AlertEvent.id)  # type: ignore[arg-type]
        )
        return [event for event in found if event.lease_owner == owner]


def mark_summary(event_id: int, owner: str, count: int) -> bool:
    """Note on the event that it is sent as a summary of `count` watches (retries render it so)."""
    with session_scope() as db:
        event = _holds_lease(db, event_id, owner)
        if event is None:
            return False
        event.facts = {**event.facts, "summary_of": count}
        return True
