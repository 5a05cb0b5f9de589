"""Adding a watch: one path for the UI, the CLI and an API.

`preview_url` fetches and reads a page without writing anything; `add_watch` validates
what the user asked for against it, then in one transaction upserts the shared `Product`,
creates the `Watch`, records the observation and queues the confirmation event. Refusals
are `IngestError`s whose `message` can be shown as it is and whose `offer` names the
alternative the UI can propose.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cloudtrack_app.db import session_scope
from cloudtrack_app.i18n import format_money, percent_text, usable_locale
from cloudtrack_app.models import Availability, Product, User, Watch, WatchMode, utcnow
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.claims import next_check_delay
from cloudtrack_app.tracking.extract import Candidate, Extraction, PickedReading
from cloudtrack_app.tracking.extractor_pool import (
    READERS_BUSY_MESSAGE,
    PageTooSlow,
    ReadersBusy,
    read_requested_page,
)
from cloudtrack_app.tracking.fetch import FetchError, FetchErrorKind, FetchResult, fetch_page
from cloudtrack_app.tracking.llm_reading import (
    ModelMemory,
    SecondReading,
    needs_help,
    product_memory,
    remember_preview,
    second_reading,
)
from cloudtrack_app.tracking.observations import (
    apply_page_details,
    lock_product,
    mark_read,
    observation_of,
    queue_confirmation,
    record_observation,
    rule_of,
    series_of,
    set_memory,
    window_lowest,
)
from cloudtrack_app.tracking.picks import Pick, PickRefused, pick_for_new_watch, validated_pick
from cloudtrack_app.tracking.rules import Observation, initial_memory, rule_problem
from cloudtrack_app.tracking.urls import InvalidURL, canonical_url, shop_domain

PREVIEW_MAX_AGE = timedelta(minutes=10)
MAX_TARGET = Decimal("100000000000000")

OFFER_PRICE_WATCH = "price_watch"
OFFER_ANY_DROP = "any_drop"
OFFER_EDIT = "edit_watch"
SHORT_TITLE_CHARS = 60

TOO_SLOW_MESSAGE = (
    "This page took too long to read, so CloudTrack cannot watch it. Is it a product page of a shop?"
)
UNREADABLE_MESSAGE = "CloudTrack could not read that page. Is it a product page?"


class IngestError(Exception):
    """A refusal: `code` for programs, `message` for people, `offer` for the next step."""

    def __init__(
        self, code: str, message: str, offer: str | None = None, *, product_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.offer = offer
        self.product_id = product_id  # the product the refusal is about (an existing watch's)


def short_title(title: str, limit: int = SHORT_TITLE_CHARS) -> str:
    """A product title short enough for a sentence: shops write titles of 150 characters."""
    text = " ".join(title.split())
    if len(text) <= limit:
        return text
    shortened = textwrap.shorten(text, limit, placeholder="…")
    return shortened if shortened != "…" else text[: limit - 1] + "…"


def _looks_like_web_address(text: str) -> bool:
    """Whether text typed without a scheme names a host: `shop.com/item` does, `headphones` does not."""
    if any(character.isspace() for character in text):
        return False
    host = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if host.startswith("["):
        return "]" in host
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    labels = host.lower().rstrip(".").split(".")
    return host.lower() == "localhost" or (len(labels) >= 2 and all(labels))


@dataclass(frozen=True)
class Preview:
    url: str  # canonical address of the page (after redirects), the product's identity
    requested_url: str  # canonical form of what the user pasted
    shop: str
    title: str | None
    price: Decimal | None
    currency: str | None
    availability: str
    availability_raw: str | None
    was_price: Decimal | None
    image: str | None
    sku: str | None
    gtin: str | None
    brand: str | None
    source: str | None
    confidence: float
    etag: str | None
    last_modified: str | None
    fetched_at: datetime
    # The prices the reading considered, best first, for a person to pick from.
    candidates: tuple[Candidate, ...] = ()
    # What the selectors asked for read on the page (None: nothing there).
    picked: Mapping[str, PickedReading | None] = field(default_factory=dict)
    # Where a language model found the price, when the preview asked one (kept on the product).
    model_memory: ModelMemory | None = None

    @property
    def observation(self) -> Observation:
        return Observation(self.price, self.currency, self.availability, self.was_price)


@dataclass(frozen=True)
class AddWatchResult:
    watch_id: int
    product_id: int
    preview: Preview
    mode: str
    target_price: Decimal | None  # None: alert on any drop (price modes) or no price rule (stock)
    target_met: bool  # the price is already at or below the target: said now, not alerted later
    message: str


_FETCH_CODES = {
    FetchErrorKind.INVALID_URL: "invalid_url",
    FetchErrorKind.BLOCKED_ADDRESS: "blocked_address",
    FetchErrorKind.BLOCKED_BY_SHOP: "blocked",
    FetchErrorKind.NOT_HTML: "not_a_page",
    FetchErrorKind.TOO_LARGE: "not_a_page",
}


def _canonical(url: str) -> str:
    typed = (url or "").strip()
    if typed and "://" not in typed and not _looks_like_web_address(typed):
        raise IngestError(
            "invalid_url",
            f"“{short_title(typed, 40)}” is not a web address. "
            "Paste the link of the product page, like shop.example/item.",
        )
    try:
        return canonical_url(url)
    except InvalidURL as error:
        raise IngestError("invalid_url", str(error)) from error


async def _read(fetched: FetchResult, selectors: Sequence[str]) -> Extraction:
    try:
        extraction = await read_requested_page(fetched.body, fetched.url, fetched.charset, selectors)
    except PageTooSlow as error:
        raise IngestError("too_slow", TOO_SLOW_MESSAGE) from error
    except ReadersBusy as error:
        raise IngestError("busy", READERS_BUSY_MESSAGE) from error
    if extraction is None:
        raise IngestError("unreadable", UNREADABLE_MESSAGE)
    return extraction


async def preview_url(
    url: str, *, settings: Settings | None = None, selectors: Sequence[str] = ()
) -> Preview:
    """Fetch and read a product page, writing nothing; raises `IngestError`.

    `selectors` (a price a person picks) are read on the page too, into `Preview.picked`.
    The page is read outside this process in the web app (see `read_requested_page`)."""
    requested = _canonical(url)
    settings = settings or get_settings()
    try:
        fetched = await fetch_page(requested, settings=settings)
    except FetchError as error:
        code = _FETCH_CODES.get(error.kind, "unreachable")
        raise IngestError(code, f"CloudTrack could not open that page: {error.message}") from error
    try:
        final = canonical_url(fetched.url)
    except InvalidURL:
        final = requested
    extraction = await _read(fetched, selectors)
    second = SecondReading(extraction, ModelMemory())
    if needs_help(extraction):
        # Only a page the rules doubt needs what the product remembers of a model's reading.
        memory = await asyncio.to_thread(product_memory, final)
        if memory.selector:
            extraction = await _read(fetched, (*selectors, memory.selector))
        second = await second_reading(
            memory, fetched.body, fetched.url, fetched.charset, extraction, settings, utcnow()
        )
        if second.remember:
            await asyncio.to_thread(remember_preview, final, second.memory)
        extraction = second.extraction
    if extraction.price is None and extraction.availability == Availability.UNKNOWN:
        raise IngestError(
            "no_price", "No price or stock information was found on that page. Is it a product page?"
        )
    return Preview(
        url=final,
        requested_url=requested,
        shop=shop_domain(final),
        title=extraction.title,
        price=extraction.price,
        currency=extraction.currency,
        availability=extraction.availability,
        availability_raw=extraction.availability_raw,
        was_price=extraction.was_price,
        image=extraction.image,
        sku=extraction.sku,
        gtin=extraction.gtin,
        brand=extraction.brand,
        source=extraction.source,
        confidence=extraction.confidence,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        fetched_at=utcnow(),
        candidates=tuple(extraction.candidates),
        picked=dict(extraction.picked),
        model_memory=second.memory if second.remember else None,
    )


def parse_target(value: Decimal | str | int | None) -> Decimal | None:
    """A target price from user input: positive, at most 4 decimals (raises `IngestError`)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        target = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as error:
        raise IngestError("invalid_target", "Enter the target price as a number, like 79.99.") from error
    if not target.is_finite() or target <= 0 or target >= MAX_TARGET:
        raise IngestError("invalid_target", "Enter a target price above zero.")
    if target != target.quantize(Decimal("0.0001")):
        raise IngestError("invalid_target", "Use at most four decimals for the target price.")
    return target


@dataclass(frozen=True)
class ExtraRules:
    """The price rules beside a target: a drop of at least X %, a new low, increases."""

    drop_percent: Decimal | None = None
    lowest_window_days: int | None = None
    notify_increase: bool = False

    @property
    def replaces_target(self) -> bool:
        return self.drop_percent is not None or self.lowest_window_days is not None


def validate_rules(
    mode: str,
    target: Decimal | None,
    drop_percent: Decimal | str | int | None,
    lowest_window_days: int | str | None,
    notify_increase: bool,
) -> ExtraRules:
    """The extra rules to store; raises `IngestError` with the app's words for bad ones."""
    percent: Decimal | None = None
    if drop_percent is not None and str(drop_percent).strip():
        try:
            percent = Decimal(str(drop_percent).strip().rstrip("%").strip())
        except InvalidOperation as error:
            raise IngestError("invalid_rule", "Enter the drop as a number of percent, like 10.") from error
        if not percent.is_finite():
            raise IngestError("invalid_rule", "Enter the drop as a number of percent, like 10.")
    days: int | None = None
    if lowest_window_days is not None and str(lowest_window_days).strip():
        try:
            days = int(str(lowest_window_days).strip())
        except ValueError as error:
            raise IngestError("invalid_rule", "Choose 30, 90 or 365 days for the lowest price.") from error
    rules = ExtraRules(percent, days, bool(notify_increase))
    if mode == WatchMode.STOCK and (rules.replaces_target or rules.notify_increase):
        raise IngestError(
            "invalid_rule", 'A stock watch has no price rules. Choose "both" to watch the price too.'
        )
    if (problem := rule_problem(target, percent, days)) is not None:
        raise IngestError("invalid_rule", problem)
    return rules


def validate_watch_request(
    mode: str,
    target_price: Decimal | str | int | None,
    any_drop: bool,
    drop_percent: Decimal | str | int | None,
    lowest_window_days: int | str | None,
    notify_increase: bool,
) -> tuple[str, Decimal | None, ExtraRules]:
    """Mode, target and extra rules to store, or an `IngestError` in the app's words."""
    try:
        mode, target = validate_request(mode, target_price, any_drop)
    except IngestError as error:
        # A percent or new-low rule stands in for a target, like "any drop" does.
        chosen = drop_percent not in (None, "") or lowest_window_days not in (None, "")
        if error.code != "missing_target" or not chosen:
            raise
        mode, target = validate_request(mode, None, True)
    return mode, target, validate_rules(mode, target, drop_percent, lowest_window_days, notify_increase)


def validate_request(
    mode: str, target: Decimal | str | int | None, any_drop: bool
) -> tuple[str, Decimal | None]:
    """The watch mode and target price to store (None target: any drop, or stock only)."""
    try:
        mode = WatchMode(mode)
    except ValueError as error:
        raise IngestError("invalid_mode", "Choose what to watch: price, stock or both.") from error
    target_price = parse_target(target)
    if mode == WatchMode.STOCK:
        if target_price is not None or any_drop:
            raise IngestError(
                "invalid_target",
                'A stock watch has no price target. Choose "both" to watch the price too.',
                OFFER_PRICE_WATCH,
            )
        return mode, None
    if any_drop:
        return mode, None
    if target_price is None:
        raise IngestError(
            "missing_target",
            "Enter a target price, or choose to be told about any price drop.",
            OFFER_ANY_DROP,
        )
    return mode, target_price


def _refuse_if_unwatchable(
    preview: Preview, mode: str, target: Decimal | None, locale: str, *, restoring: bool = False
) -> None:
    name = short_title(preview.title) if preview.title else "This item"
    no_price = preview.price is None and (
        mode == WatchMode.PRICE
        or (mode == WatchMode.BOTH and preview.availability != Availability.OUT_OF_STOCK)
    )
    if no_price:
        raise IngestError("no_price", "No price was found on that page, so there is no price to watch.")
    if mode == WatchMode.STOCK and not restoring:
        if preview.availability == Availability.IN_STOCK:
            raise IngestError(
                "in_stock_now",
                f"{name} is in stock now, so there is nothing to wait for. "
                "Watch its price instead to hear when it gets cheaper.",
                OFFER_PRICE_WATCH,
            )
        if preview.availability == Availability.UNKNOWN:
            raise IngestError(
                "no_availability",
                "That page does not say whether the item is in stock, so a stock watch could never alert. "
                "Watch its price instead.",
                OFFER_PRICE_WATCH,
            )
    if target is not None and preview.price is not None and target > preview.price and not restoring:
        raise IngestError(
            "target_above_price",
            f"Your target {format_money(target, preview.currency, locale)} is above the current price "
            f"{format_money(preview.price, preview.currency, locale)}. Would you like an alert on any price drop instead?",
            OFFER_ANY_DROP,
        )


def _duplicate(title: str | None, product_id: int | None) -> IngestError:
    what = f"“{short_title(title)}”" if title else "this product"
    return IngestError(
        "duplicate",
        f"You are already watching {what}. Change that watch on its page instead.",
        OFFER_EDIT,
        product_id=product_id,
    )


def _existing_watch(session: Session, user_id: int, url: str) -> Watch | None:
    query = (
        select(Watch)
        .join(Product, Product.id == Watch.product_id)
        .where(Watch.user_id == user_id, Product.url == url)
    )
    return session.exec(query).first()


def _new_product(preview: Preview, now: datetime, settings: Settings) -> Product:
    return Product(
        url=preview.url,
        shop_domain=preview.shop,
        created_at=now,
        next_check_at=now + next_check_delay(settings),
    )


def _describe(
    preview: Preview, mode: str, target: Decimal | None, target_met: bool, locale: str, rules: ExtraRules
) -> str:
    name = f"“{preview.title}”" if preview.title else "this product"
    now_price = format_money(preview.price, preview.currency, locale)
    target_price = format_money(target, preview.currency, locale)
    parts = [f"Now watching {name} at {preview.shop}."]
    if mode in (WatchMode.PRICE, WatchMode.BOTH) and preview.price is not None:
        if rules.lowest_window_days is not None:
            days = rules.lowest_window_days
            if target_met:
                parts.append(f"At {now_price} it is already the lowest price of the last {days} days.")
            else:
                parts.append(
                    f"It costs {now_price}; you will hear when it is the lowest of the last {days} days."
                )
        elif rules.drop_percent is not None:
            pct = percent_text(rules.drop_percent, locale)
            parts.append(f"It costs {now_price}; you will hear when it drops by {pct} or more.")
        elif target_met:
            parts.append(
                f"It already costs {now_price}, at or below your target {target_price}: "
                "a good moment to buy. You will hear again if it drops further."
            )
        elif target is None:
            parts.append(f"It costs {now_price}; you will hear when the price drops.")
        else:
            parts.append(f"It costs {now_price}; you will hear when it drops to {target_price} or below.")
    if rules.notify_increase:
        parts.append("You will also hear when the price goes up.")
    if mode in (WatchMode.STOCK, WatchMode.BOTH) and preview.availability == Availability.OUT_OF_STOCK:
        parts.append("It is out of stock now; you will hear once when it is back.")
    return " ".join(parts)


def _apply_preview(product: Product, preview: Preview, now: datetime) -> None:
    apply_page_details(product, preview)
    mark_read(product, preview.etag, preview.last_modified, now)
    product.last_checked_at = now
    if preview.model_memory is not None:
        product.reading_selector = preview.model_memory.selector
        product.model_asked_at = preview.model_memory.asked_at


def _save_watch(
    user_id: int,
    preview: Preview,
    mode: str,
    target: Decimal | None,
    settings: Settings,
    rules: ExtraRules = ExtraRules(),
    pick: Pick | None = None,
) -> tuple[int, int, bool]:
    now = utcnow()
    automatic = preview.observation
    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise IngestError("unknown_user", "That account does not exist.")
        product = session.exec(select(Product).where(Product.url == preview.url)).first()
        if product is None:
            product = _new_product(preview, now, settings)
            _apply_preview(product, preview, now)
            session.add(product)
            session.flush()
            record_observation(session, product, None, None, automatic, now)
        else:
            assert product.id is not None
            lock_product(session, product.id)
            session.refresh(product)
            if _existing_watch(session, user_id, preview.url) is not None:
                raise _duplicate(product.title or preview.title, product.id)
            previous = observation_of(product)
            previous_check_at = product.last_checked_at
            _apply_preview(product, preview, now)
            record_observation(session, product, previous, previous_check_at, automatic, now)
        watch = Watch(
            user_id=user_id,
            product_id=product.id,
            mode=mode,
            target_price=target,
            created_at=now,
            drop_percent=rules.drop_percent,
            lowest_window_days=rules.lowest_window_days,
            notify_increase=rules.notify_increase,
        )
        current = automatic if pick is None else pick_for_new_watch(session, product, watch, pick, automatic)
        watch.initial_price = current.price
        assert product.id is not None
        series = series_of(watch)
        low = window_lowest(session, product.id, current.currency, rules.lowest_window_days, now, series)
        memory, target_met = initial_memory(rule_of(watch), current, window_lowest=low)
        set_memory(watch, memory)
        session.add(watch)
        session.flush()
        assert watch.id is not None
        # With the "now watching" message off, a first reading that meets the rule is still told.
        if user.confirmation_messages or target_met:
            hold = timedelta(seconds=settings.confirmation_summary_seconds)
            queue_confirmation(session, product, watch, target_met, now, hold=hold)
        return watch.id, product.id, target_met


@dataclass(frozen=True)
class _Requester:
    """Who asks to watch `url`: their locale, and the title of their watch of it if any."""

    locale: str
    watching: bool
    watched_title: str | None
    watched_product_id: int | None


def _requester(user_id: int, url: str) -> _Requester:
    with session_scope() as session:
        user = session.get(User, user_id)
        watch = _existing_watch(session, user_id, url)
        product = session.get(Product, watch.product_id) if watch else None
        return _Requester(
            usable_locale(user.locale if user else None),
            watch is not None,
            product.title if product else None,
            product.id if product else None,
        )


async def add_watch(
    user_id: int,
    url: str,
    mode: str,
    target_price: Decimal | str | int | None,
    *,
    preview: Preview | None = None,
    any_drop: bool = False,
    restoring: bool = False,
    settings: Settings | None = None,
    drop_percent: Decimal | str | int | None = None,
    lowest_window_days: int | str | None = None,
    notify_increase: bool = False,
    pick: tuple[str, Decimal | str, str | None] | None = None,
) -> AddWatchResult:
    """Start watching a product for `user_id`; raises `IngestError` and then saves nothing.

    A `preview` from `preview_url` for the same address, less than ten minutes old, is
    used instead of fetching the page again. `restoring` re-creates an exported watch: an
    in-stock item or a target above today's price is kept as it was, not refused. A `pick`
    (selector, the price it showed, currency) makes that element the watch's price
    (see `picks`); the rules are judged against it.
    """
    settings = settings or get_settings()
    mode, target, rules = validate_watch_request(
        mode, target_price, any_drop, drop_percent, lowest_window_days, notify_increase
    )
    try:
        chosen = validated_pick(*pick) if pick is not None else None
    except PickRefused as error:
        raise IngestError("invalid_pick", error.message) from error
    requested = _canonical(url)
    requester = await asyncio.to_thread(_requester, user_id, requested)
    if requester.watching:
        raise _duplicate(requester.watched_title, requester.watched_product_id)
    fresh = preview is not None and utcnow() - preview.fetched_at <= PREVIEW_MAX_AGE
    if preview is None or not fresh or requested not in (preview.url, preview.requested_url):
        preview = await preview_url(url, settings=settings)
    # What the watch will see: its picked price when it has one, else the page's reading.
    seen = (
        preview
        if chosen is None
        else replace(preview, price=chosen.price, currency=chosen.currency or preview.currency)
    )
    _refuse_if_unwatchable(seen, mode, target, requester.locale, restoring=restoring)
    try:
        watch_id, product_id, target_met = await asyncio.to_thread(
            _save_watch, user_id, preview, mode, target, settings, rules, chosen
        )
    except IntegrityError:
        # Two requests at once: the other one created the watch or the product first.
        try:
            watch_id, product_id, target_met = await asyncio.to_thread(
                _save_watch, user_id, preview, mode, target, settings, rules, chosen
            )
        except IntegrityError as error:
            existing = await asyncio.to_thread(_requester, user_id, preview.url)
            raise _duplicate(preview.title, existing.watched_product_id) from error
    return AddWatchResult(
        watch_id=watch_id,
        product_id=product_id,
        preview=preview,
        mode=mode,
        target_price=target,
        target_met=target_met,
        message=_describe(seen, mode, target, target_met, requester.locale, rules),
    )
