"""The facts of one alert as a message may state them: from `AlertEvent.facts` and the user.

The engine's `EventFacts` types the stored dict; the title, shop and URLs in it come from
a stranger's web page, so here they are cleaned for messages once, and the rest of
`notify` works with validated values only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from cloudtrack_app.i18n import format_money, usable_locale
from cloudtrack_app.models import LOWEST_WINDOWS, AlertKind
from cloudtrack_app.tracking.deals import DealCheck, claimed_discount_text, deal_verdict
from cloudtrack_app.tracking.event_facts import EventFacts

TITLE_MAX_CHARS = 300
DEFAULT_TITLE = "your product"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def http_url(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL, else None (no `javascript:` links)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(c in url for c in " \n\r\t")
    ):
        return None
    return url


def clean_text(value: Any, *, max_chars: int, default: str = "") -> str:
    if not isinstance(value, str):
        return default
    text = " ".join(_CONTROL_CHARS.sub(" ", value).split())
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text or default


@dataclass(frozen=True)
class AlertFacts:
    """Everything a message may state, already validated."""

    kind: str
    title: str
    shop: str
    shop_url: str | None
    image_url: str | None
    currency: str | None
    price: Decimal | None
    previous_price: Decimal | None
    target_price: Decimal | None
    lowest_90d: Decimal | None
    average_90d: Decimal | None
    lowest_ever: Decimal | None
    good_deal: bool
    availability: str | None
    mode: str | None
    product_id: int | None
    watch_id: int | None
    display_name: str
    locale: str
    product_page_url: str | None
    unsubscribe_url: str | None
    reason: str | None = None
    rule_drop_percent: Decimal | None = None  # the watch's "drop of at least X %" rule
    lowest_window_days: int | None = None  # the watch's new-low window
    history_days: int | None = None  # fewer days of history than that window: how many
    notify_increase: bool = False
    target_met: bool = False  # a confirmation whose first reading already met the rule
    summary_of: int = 0  # a "now watching" summary of this many new watches (0: one product)
    deal: DealCheck | None = None  # the shop's claimed discount and the deal check's verdict

    def money(self, amount: Decimal | None) -> str | None:
        return None if amount is None else format_money(amount, self.currency, self.locale)

    @property
    def lowest_recorded(self) -> Decimal | None:
        return self.lowest_ever if self.lowest_ever is not None else self.lowest_90d

    @property
    def savings(self) -> Decimal | None:
        if self.price is None or self.previous_price is None or self.previous_price <= self.price:
            return None
        return self.previous_price - self.price

    @property
    def drop_percent(self) -> int | None:
        savings = self.savings
        if savings is None or not self.previous_price:
            return None
        return int((savings * 100 / self.previous_price).to_integral_value())


def fact_rows(facts: AlertFacts) -> list[tuple[str, str]]:
    """The label/value lines every channel shows under the message."""
    if facts.summary_of:
        return []  # a summary lists its products in the body
    rows = [("Shop", facts.shop)]
    # A restock at an unchanged price has no previous price worth a line.
    previous = facts.previous_price if facts.previous_price != facts.price else None
    for label, amount in (
        ("New price", facts.price),
        ("Previous price", previous),
        ("Your target", facts.target_price),
        ("Lowest recorded", facts.lowest_recorded),
    ):
        money = facts.money(amount)
        if money:
            rows.append((label, money))
    if facts.deal is not None:
        claim = f"{claimed_discount_text(facts.deal, facts.locale)} from {facts.money(facts.deal.was_price)}"
        rows.append(("Shop's discount", f"{claim}, {deal_verdict(facts.deal, facts.locale)}"))
    return rows


def message_links(facts: AlertFacts) -> list[tuple[str, str]]:
    links = []
    if facts.product_page_url:
        links.append(("View in CloudTrack", facts.product_page_url))
    if facts.shop_url:
        links.append((f"Open at {facts.shop}", facts.shop_url))
    return links


def _shop_name(facts: EventFacts, shop_url: str | None) -> str:
    shop = clean_text(facts.shop, max_chars=100)
    if shop:
        return shop
    if shop_url:
        host = urlsplit(shop_url).hostname or ""
        return host.removeprefix("www.") or "the shop"
    return "the shop"


def read_facts(
    raw: Any,
    *,
    kind: str,
    display_name: str,
    locale: str | None,
    public_url: str,
    product_id: int | None = None,
    watch_id: int | None = None,
    unsubscribe_url: str | None = None,
) -> AlertFacts:
    """Facts for a message from the engine's dict; missing or malformed values become None."""
    facts = EventFacts.from_json(raw)
    shop_url = http_url(facts.url)
    product_id = product_id if product_id is not None else facts.product_id
    watch_id = watch_id if watch_id is not None else facts.watch_id
    product_page_url = f"{public_url.rstrip('/')}/products/{product_id}" if product_id is not None else None
    return AlertFacts(
        kind=kind if kind in set(AlertKind) else AlertKind.PRICE_DROP,
        title=clean_text(facts.title, max_chars=TITLE_MAX_CHARS, default=DEFAULT_TITLE),
        shop=_shop_name(facts, shop_url),
        shop_url=shop_url,
        image_url=http_url(facts.image),
        currency=facts.currency,
        price=facts.price,
        previous_price=facts.previous_price,
        target_price=facts.target_price,
        lowest_90d=facts.lowest_90d,
        average_90d=facts.average_90d,
        lowest_ever=facts.lowest_ever,
        good_deal=facts.good_deal,
        availability=facts.availability if len(facts.availability or "") <= 20 else None,
        mode=facts.mode if len(facts.mode or "") <= 10 else None,
        product_id=product_id,
        watch_id=watch_id,
        display_name=clean_text(display_name, max_chars=120, default="there"),
        locale=usable_locale(locale),
        product_page_url=http_url(product_page_url),
        unsubscribe_url=unsubscribe_url,
        reason=facts.reason if len(facts.reason or "") <= 40 else None,
        rule_drop_percent=facts.drop_percent
        if facts.drop_percent is not None and 0 < facts.drop_percent < 100
        else None,
        lowest_window_days=facts.lowest_window_days if facts.lowest_window_days in LOWEST_WINDOWS else None,
        history_days=facts.history_days
        if facts.history_days is not None
        and facts.lowest_window_days in LOWEST_WINDOWS
        and 0 <= facts.history_days < facts.lowest_window_days
        else None,
        notify_increase=facts.notify_increase is True,
        target_met=facts.target_met is True,
        summary_of=max(0, min(facts.summary_of or 0, 10_000)),
        deal=facts.deal_check(),
    )
