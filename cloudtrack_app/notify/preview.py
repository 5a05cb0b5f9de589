"""What an alert for one watch would say on each channel, composed for real and sent nowhere.

For an operator trying a model (`notify preview`): the facts are those of a plausible alert
for the watch's product as it is now (a price drop for a price watch, a restock for a stock
watch), and the text is composed exactly as the dispatcher composes it (the model, the
wording check, the template on refusal). Each channel renders it; none sends it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlmodel import col, select

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import (
    AlertEvent,
    AlertKind,
    Availability,
    PricePoint,
    Product,
    User,
    Watch,
    WatchMode,
    utcnow,
)
from cloudtrack_app.notify.channels import RenderedMessage, channel_types, open_channels
from cloudtrack_app.notify.compose import ComposedMessage, compose, template_message
from cloudtrack_app.notify.dispatch import DEFAULT_BODY_CHARS, MultiTargetChannel, facts_for
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.event_facts import EventFacts
from cloudtrack_app.tracking.history import stats_in_session
from cloudtrack_app.tracking.rules import (
    REASON_FURTHER_DROP,
    REASON_RESTOCK,
    REASON_TARGET_REACHED,
    Observation,
)


class PreviewRefused(LookupError):
    """No preview for this request; the message says why in one line."""


@dataclass(frozen=True)
class ChannelPreview:
    channel: str
    label: str
    recipient: str | None
    rendered: RenderedMessage | None  # None when nothing would be sent on this channel
    note: str | None  # why nothing would be sent


@dataclass(frozen=True)
class AlertPreview:
    watch_id: int
    kind: str
    message: ComposedMessage
    channels: list[ChannelPreview]


def plausible_kind(watch: Watch, product: Product) -> tuple[str, str]:
    """The alert kind and reason this watch would most likely send next."""
    if watch.mode == WatchMode.STOCK or (watch.mode == WatchMode.BOTH and product.last_price is None):
        return AlertKind.RESTOCK, REASON_RESTOCK
    reached = (
        watch.target_price is not None
        and product.last_price is not None
        and product.last_price <= watch.target_price
    )
    return AlertKind.PRICE_DROP, REASON_TARGET_REACHED if reached else REASON_FURTHER_DROP


def _pick_watch(user_id: int, email: str, watch_id: int | None) -> Watch:
    with session_scope() as db:
        if watch_id is None:
            newest = select(Watch).where(Watch.user_id == user_id)
            watch = db.exec(newest.order_by(col(Watch.created_at).desc(), col(Watch.id).desc())).first()
            if watch is None:
                raise PreviewRefused(f"{email} has no watches to preview.")
        else:
            watch = db.get(Watch, watch_id)
            if watch is None:
                raise PreviewRefused(f"There is no watch with id {watch_id}.")
            if watch.user_id != user_id:
                raise PreviewRefused(f"Watch {watch_id} belongs to another account, not {email}.")
        db.expunge(watch)
        return watch


def preview_event(user_id: int, email: str, watch_id: int | None) -> tuple[AlertEvent, User, Watch]:
    """An unsaved alert event of the user's newest (or given) watch, with facts as of now."""
    watch = _pick_watch(user_id, email, watch_id)
    now = utcnow()
    with session_scope() as db:
        user = db.get(User, user_id)
        product = db.get(Product, watch.product_id)
        if user is None or product is None:
            raise PreviewRefused(f"Watch {watch.id} or its account was just deleted.")
        kind, reason = plausible_kind(watch, product)
        earlier_prices = (
            select(PricePoint.price)
            .where(PricePoint.product_id == product.id, col(PricePoint.price).is_not(None))
            .where(PricePoint.price != product.last_price)
            .order_by(col(PricePoint.checked_at).desc())
            .limit(1)
        )
        previous_price = db.exec(earlier_prices).first() if product.last_price is not None else None
        was = Availability.OUT_OF_STOCK if kind == AlertKind.RESTOCK else product.last_availability
        facts = EventFacts.of_alert(
            product,
            watch,
            stats_in_session(db, product, now),
            kind=kind,
            reason=reason,
            crossing=1,
            previous=Observation(previous_price, product.currency, was),
            now=now,
        )
        db.expunge(user)
    event = AlertEvent(
        user_id=user_id,
        watch_id=watch.id,
        product_id=watch.product_id,
        kind=kind,
        dedupe_key=f"preview:{watch.id}",
        facts=facts.to_json(),
        created_at=now,
    )
    return event, user, watch


async def preview_alert(
    user_id: int, email: str, watch_id: int | None = None, *, settings: Settings | None = None
) -> AlertPreview:
    """What the next alert of the watch would say on each channel; sends nothing."""
    settings = settings or get_settings()
    event, user, watch = preview_event(user_id, email, watch_id)
    facts = facts_for(event, user, settings)
    previews = []
    async with open_channels(settings) as channels:
        if user.disabled:
            held = "The account is disabled, so nothing would be sent."
        elif not watch.active:
            held = "The watch is paused, so nothing would be sent."
        else:
            held = None
        assert user.id is not None
        multi = {
            name: await asyncio.to_thread(cls.targets_for, user.id)
            for name, cls in channel_types().items()
            if issubclass(cls, MultiTargetChannel)
        }
        targets = (
            {} if held else {n: ch for n, ch in channels.items() if ch.recipient_for(user) or multi.get(n)}
        )
        if held:
            message = template_message(facts, held)
        else:
            max_chars = min((ch.max_length for ch in targets.values()), default=DEFAULT_BODY_CHARS)
            message = await compose(
                facts, ai_enabled=user.ai_text, tone=user.ai_tone, max_body_chars=max_chars, settings=settings
            )
        for name, channel_type in channel_types().items():
            if name in multi:  # one preview per target (Apprise URLs), none when there is none
                rendered = targets[name].render(message) if name in targets else None
                previews += [
                    ChannelPreview(t.delivery_name, t.name, t.shown_url, rendered, held) for t in multi[name]
                ]
                continue
            recipient = channel_type.recipient_for(user)
            if name not in channels:
                note = "not configured on this server"
            elif held:
                note = held
            elif name not in targets:
                note = "turned off for this person"
            else:
                note = None
            rendered = targets[name].render(message) if name in targets else None
            previews.append(ChannelPreview(name, channel_type.label, recipient, rendered, note))
    assert watch.id is not None
    return AlertPreview(watch_id=watch.id, kind=event.kind, message=message, channels=previews)
