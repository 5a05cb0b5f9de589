"""The outbox: pending alert events become messages on every enabled channel.

One run claims due events with a lease (the database steps are in `outbox`), composes
each event once (stored on the event), then sends one `AlertDelivery` per channel and
writes down what happened. Transient failures wait in the database (`next_attempt_at`,
exponential backoff or the provider's retry-after); a crash leaves the lease to expire
and the next run sends again with the same idempotency key, which Resend honours (over
SMTP it becomes the Message-ID, so the second copy is recognisably the same message).

A delivery is written down as "sending" before it is sent and marked sent by a single
write right after (`outbox.record_sent`). Only a kill between the provider accepting the
message and that write sends it again: e-mail through Resend still arrives once (same
idempotency key); over SMTP, on Telegram and through Apprise it arrives twice, since none
has an idempotency key (the SMTP copy keeps its Message-ID). Those are at-least-once in
that window, Resend exactly-once.

Event statuses: `pending` (to compose, or deliveries waiting for a retry), `sent` (at
least one channel delivered), `failed` (every channel gave up), `skipped` (composed and
kept for the app's alert history, but no channel was enabled or the watch was off).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AlertDelivery, AlertEvent, AlertKind, DeliveryStatus, User, utcnow
from cloudtrack_app.notify.apprise_channel import TargetView
from cloudtrack_app.notify.channels import (
    Channel,
    PermanentSendError,
    RenderedMessage,
    SendResult,
    TransientSendError,
    base_channel_name,
    open_channels,
)
from cloudtrack_app.notify.compose import (
    SUBJECT_MAX_CHARS,
    ComposedMessage,
    compose,
    summary_facts,
    summary_message,
    template_message,
)
from cloudtrack_app.notify.facts import AlertFacts, read_facts
from cloudtrack_app.notify.links import unsubscribe_url
from cloudtrack_app.notify.outbox import (
    WAITING,
    AttemptResult,
    claim_events,
    clear_channel_error,
    confirmation_batches,
    finish_attempt,
    finish_event,
    held_events,
    load_claimed,
    mark_summary,
    record_sent,
    save_composition,
    start_attempt,
)
from cloudtrack_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEFAULT_BODY_CHARS = 3000


@dataclass(frozen=True)
class ChannelOutcome:
    """One channel's result for one alert, as a person would read it."""

    channel: str
    status: str  # sent | retrying | failed | skipped | recorded | queued
    detail: str


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    outcomes: dict[int, list[ChannelOutcome]] = field(default_factory=dict)


def _owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff_seconds(attempts: int, settings: Settings) -> float:
    return min(
        settings.notify_retry_base_seconds * 2 ** max(0, attempts - 1), settings.notify_retry_max_seconds
    )


# --- one event ------------------------------------------------------------------------


@runtime_checkable
class MultiTargetChannel(Protocol):
    """A channel with several targets per person (Apprise URLs), one delivery each (`name:<id>`)."""

    def targets_for(self, user_id: int) -> list[TargetView]: ...

    def recipient_for_delivery(self, delivery_name: str, user: User) -> str | None: ...

    async def send_to(self, rendered: RenderedMessage, delivery_name: str, user_id: int) -> SendResult: ...

    def record_outcome(self, delivery_name: str, status: str, detail: str | None) -> None: ...


def _delivery_names(channels: dict[str, Channel], user: User) -> list[str]:
    """One delivery per channel this person has on, and one per target of a multi-target channel."""
    names = []
    for name, channel in channels.items():
        if isinstance(channel, MultiTargetChannel):
            assert user.id is not None
            names += [target.delivery_name for target in channel.targets_for(user.id)]
        elif channel.recipient_for(user):
            names.append(name)
    return names


def facts_for(event: AlertEvent, user: User, settings: Settings) -> AlertFacts:
    facts = _facts_of(event, user, settings)
    if facts.summary_of:
        return summary_facts(facts, facts.summary_of, f"{settings.public_url.rstrip('/')}/")
    return facts


def _facts_of(event: AlertEvent, user: User, settings: Settings) -> AlertFacts:
    link = None
    if event.watch_id is not None and event.kind != AlertKind.TEST:
        # Signed relative to the event's creation, so a retry renders byte-identical text
        # (Resend refuses a reused idempotency key with a different payload).
        link = unsubscribe_url(event.watch_id, user.id or 0, settings=settings, now=event.created_at)
    return read_facts(
        event.facts,
        kind=event.kind,
        display_name=user.display_name,
        locale=user.locale,
        public_url=settings.public_url,
        product_id=event.product_id,
        watch_id=event.watch_id,
        unsubscribe_url=link,
    )


async def _attempt(
    channel: Channel,
    rendered: RenderedMessage,
    recipient: str,
    delivery: AlertDelivery,
    now: datetime,
    settings: Settings,
    user_id: int,
) -> AttemptResult:
    attempts = delivery.attempts + 1
    try:
        async with asyncio.timeout(settings.notify_send_timeout * 2):
            if isinstance(channel, MultiTargetChannel):
                result = await channel.send_to(rendered, delivery.channel, user_id)
            else:
                result = await channel.send(rendered, recipient, delivery.idempotency_key)
    except PermanentSendError as error:
        return AttemptResult(DeliveryStatus.FAILED, error=str(error), channel_error=str(error))
    except TransientSendError as error:
        problem, retry_after = str(error), error.retry_after
    except TimeoutError:
        problem, retry_after = "Sending timed out.", None
    except Exception as error:  # a channel bug must not stop the other alerts
        log.exception("Unexpected error sending alert delivery %s", delivery.id)
        problem, retry_after = f"Unexpected error: {type(error).__name__}: {error}", None
    else:
        return AttemptResult(DeliveryStatus.SENT, provider_id=result.provider_id)
    if attempts >= settings.notify_max_attempts:
        gave_up = f"Gave up after {attempts} attempts: {problem}"
        return AttemptResult(DeliveryStatus.FAILED, error=gave_up, channel_error=gave_up)
    delay = retry_after if retry_after is not None else backoff_seconds(attempts, settings)
    return AttemptResult(
        DeliveryStatus.PENDING, error=problem, next_attempt_at=now + timedelta(seconds=delay)
    )


def _outcome(name: str, recipient: str, result: AttemptResult) -> ChannelOutcome:
    if result.status == DeliveryStatus.SENT:
        suffix = f" (id {result.provider_id})." if result.provider_id else "."
        return ChannelOutcome(name, "sent", f"Delivered to {recipient}{suffix}")
    if result.status == DeliveryStatus.PENDING and result.next_attempt_at is not None:
        return ChannelOutcome(
            name, "retrying", f"{result.error} Next try at {result.next_attempt_at:%H:%M:%S} UTC."
        )
    return ChannelOutcome(name, "failed", result.error or "Failed.")


async def _deliver(
    delivery: AlertDelivery,
    channel: Channel | None,
    user: User,
    message: ComposedMessage,
    owner: str,
    now: datetime,
    settings: Settings,
) -> ChannelOutcome:
    delivery_id = delivery.id
    assert delivery_id is not None and user.id is not None
    if isinstance(channel, MultiTargetChannel):
        recipient = await asyncio.to_thread(channel.recipient_for_delivery, delivery.channel, user)
    else:
        recipient = channel.recipient_for(user) if channel is not None else None
    if channel is None or recipient is None:
        reason = (
            "This channel is no longer configured on the server."
            if channel is None
            else "This channel was turned off or removed before the alert went out."
        )
        skipped = AttemptResult(DeliveryStatus.SKIPPED, error=reason)
        await asyncio.to_thread(finish_attempt, delivery_id, skipped, None)
        return ChannelOutcome(delivery.channel, "skipped", reason)
    if (held := channel.held_reason(user)) is not None:
        skipped = AttemptResult(DeliveryStatus.SKIPPED, error=held, channel_error=held)
        await asyncio.to_thread(finish_attempt, delivery_id, skipped, user.id)
        return ChannelOutcome(delivery.channel, "skipped", held)

    rendered = channel.render(message)
    if not await asyncio.to_thread(start_attempt, delivery_id, owner, rendered.subject, rendered.body):
        return ChannelOutcome(delivery.channel, "retrying", "Another worker took over this alert.")
    result = await _attempt(channel, rendered, recipient, delivery, now, settings, user.id)
    if result.status == DeliveryStatus.SENT:
        # Right after the send, one write and nothing else (see `record_sent`).
        await asyncio.to_thread(record_sent, delivery_id, result.provider_id)
        await asyncio.to_thread(clear_channel_error, user.id, delivery.channel)
    else:
        await asyncio.to_thread(finish_attempt, delivery_id, result, user.id)
    outcome = _outcome(delivery.channel, recipient, result)
    if isinstance(channel, MultiTargetChannel):
        await asyncio.to_thread(channel.record_outcome, delivery.channel, outcome.status, outcome.detail)
    return outcome


async def _merge_batch(
    event_id: int, batch: list[int], user: User, owner: str, settings: Settings
) -> ComposedMessage | None:
    """The summary for a batch of confirmations led by `event_id`; the others are settled as told in it."""
    lead = await asyncio.to_thread(held_events, [event_id], owner)
    others = await asyncio.to_thread(held_events, batch, owner)
    if not lead or not others:
        return None
    watches = [_facts_of(event, user, settings) for event in lead + others]
    if not await asyncio.to_thread(mark_summary, event_id, owner, len(watches)):
        return None
    facts = summary_facts(watches[0], len(watches), f"{settings.public_url.rstrip('/')}/")
    told = ComposedMessage(
        subject=watches[0].title[:SUBJECT_MAX_CHARS],
        body="",
        facts=watches[0],
        ai_used=False,
        fallback_reason=f"Told in one summary of {len(watches)} new watches (alert {event_id}).",
    )
    for other in others:
        assert other.id is not None
        if await asyncio.to_thread(save_composition, other.id, owner, told, []) is not None:
            await asyncio.to_thread(finish_event, other.id, owner)
    return summary_message(facts, watches)


async def process_event(
    event_id: int,
    owner: str,
    now: datetime,
    channels: dict[str, Channel],
    settings: Settings,
    *,
    lease_until: datetime,
    only: str | None = None,
    batch: list[int] | None = None,
) -> list[ChannelOutcome]:
    """Compose (once) and send one event; with `batch`, it is sent as a summary of those too."""
    claimed = await asyncio.to_thread(load_claimed, event_id, owner, lease_until)
    if claimed is None:
        return []
    event, user = claimed.event, claimed.user
    if user is None:
        await asyncio.to_thread(finish_event, event_id, owner)
        return []
    deliveries = claimed.deliveries
    facts = facts_for(event, user, settings)
    summary = (
        await _merge_batch(event_id, batch, user, owner, settings)
        if batch and event.subject is None
        else None
    )
    if summary is not None:
        facts = summary.facts
    if event.subject is None:
        reachable = not user.disabled
        targets = await asyncio.to_thread(_delivery_names, channels, user) if reachable else []
        if only is not None:  # a test of one channel
            targets = [name for name in targets if name == only]
        if not reachable:
            message = template_message(facts, "The account is disabled, so nothing was sent.")
        elif not claimed.watch_active and summary is None:
            targets = []
            message = template_message(facts, "The watch was turned off before the alert went out.")
        elif summary is not None:
            message = summary
        else:
            max_chars = min(
                (channels[base_channel_name(name)].max_length for name in targets), default=DEFAULT_BODY_CHARS
            )
            message = await compose(
                facts, ai_enabled=user.ai_text, tone=user.ai_tone, max_body_chars=max_chars, settings=settings
            )
        saved = await asyncio.to_thread(save_composition, event_id, owner, message, targets)
        if saved is None:
            return []
        deliveries = saved
    else:
        message = ComposedMessage(
            subject=event.subject,
            body=event.body or "",
            facts=facts,
            ai_used=event.ai_used,
            fallback_reason=event.fallback_reason,
        )

    outcomes = []
    for delivery in deliveries:
        if delivery.status not in WAITING or delivery.next_attempt_at > now:
            continue
        outcome = await _deliver(
            delivery, channels.get(base_channel_name(delivery.channel)), user, message, owner, now, settings
        )
        outcomes.append(outcome)
    status = await asyncio.to_thread(finish_event, event_id, owner)
    if not deliveries and status == DeliveryStatus.SKIPPED:
        outcomes.append(
            ChannelOutcome(
                "app", "recorded", "No channel is enabled: the alert is kept in the app's alert history."
            )
        )
    return outcomes


# --- entry points ---------------------------------------------------------------------


async def dispatch_pending(
    now: datetime | None = None,
    *,
    limit: int = 50,
    event_id: int | None = None,
    settings: Settings | None = None,
) -> DispatchReport:
    """One run of the outbox (the scheduler calls this every few seconds)."""
    settings = settings or get_settings()
    started = utcnow()
    now = now or started
    owner = _owner()
    ids = await asyncio.to_thread(
        claim_events, now, limit, owner, settings.notify_lease_seconds, event_id=event_id
    )
    return await _dispatch_claimed(ids, owner, now, started, settings)


async def _dispatch_claimed(
    ids: list[int],
    owner: str,
    now: datetime,
    started: datetime,
    settings: Settings,
    *,
    only: str | None = None,
) -> DispatchReport:
    """Compose and send the events `owner` holds the lease of."""
    report = DispatchReport(claimed=len(ids))
    if not ids:
        return report
    gate = asyncio.Semaphore(settings.notify_concurrency)
    batches = await asyncio.to_thread(confirmation_batches, ids, owner)
    in_summaries = {other for batch in batches.values() for other in batch}

    async def run(one_id: int, channels: dict[str, Channel]) -> None:
        async with gate:
            # Events wait here for their turn: the lease counts from when the work starts.
            lease_until = now + (utcnow() - started) + timedelta(seconds=settings.notify_lease_seconds)
            try:
                outcomes = await process_event(
                    one_id,
                    owner,
                    now,
                    channels,
                    settings,
                    lease_until=lease_until,
                    only=only,
                    batch=batches.get(one_id),
                )
            except Exception:
                # The lease expires and a later run tries again; nothing is lost.
                log.exception("Dispatching alert event %s failed", one_id)
                return
        report.outcomes[one_id] = outcomes
        for outcome in outcomes:
            match outcome.status:
                case "sent":
                    report.sent += 1
                case "retrying":
                    report.retrying += 1
                case "failed":
                    report.failed += 1
                case _:
                    report.skipped += 1

    async with open_channels(settings) as channels:
        await asyncio.gather(*(run(one_id, channels) for one_id in ids if one_id not in in_summaries))
    return report


SAMPLE_FACTS = {
    "title": "CloudTrack sample product",
    "shop": "CloudTrack",
    "currency": "EUR",
    "price": "19.99",
    "previous_price": "24.99",
    "target_price": "20.00",
    "lowest_90d": "19.99",
    "average_90d": "23.50",
    "lowest_ever": "19.99",
    "good_deal": True,
    "availability": "in_stock",
}


def create_test_event(user_id: int, *, owner: str | None = None, lease_seconds: int = 0) -> int:
    """An alert of kind `test` with sample facts, for checking the channels.

    With `owner`, the event is born claimed by it, so the background dispatcher leaves it
    to the caller, who then reports each channel's outcome.
    """
    with session_scope() as db:
        if db.get(User, user_id) is None:
            raise LookupError(f"No user with id {user_id}.")
        event = AlertEvent(
            user_id=user_id,
            kind=AlertKind.TEST,
            dedupe_key=f"test:{user_id}:{secrets.token_hex(8)}",
            facts=dict(SAMPLE_FACTS),
            lease_owner=owner,
            lease_until=utcnow() + timedelta(seconds=lease_seconds) if owner else None,
        )
        db.add(event)
        db.flush()
        assert event.id is not None
        return event.id


async def send_test_alert(
    user_id: int, *, settings: Settings | None = None, only: str | None = None
) -> list[ChannelOutcome]:
    """Send a sample alert through this person's channels now (settings page, CLI); `only`:
    through that one channel (a delivery name such as `apprise:7`)."""
    settings = settings or get_settings()
    owner = _owner()
    event_id = await asyncio.to_thread(
        create_test_event, user_id, owner=owner, lease_seconds=settings.notify_lease_seconds
    )
    started = utcnow()
    report = await _dispatch_claimed([event_id], owner, started, started, settings, only=only)
    return report.outcomes.get(event_id, [])
