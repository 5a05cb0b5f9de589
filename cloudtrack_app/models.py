"""CloudTrack's tables: plain SQLModel, no Reflex.

Money is `Decimal` (NUMERIC(18, 4)); every timestamp is an aware UTC datetime,
stored through `UTCDateTime` so SQLite (which keeps no zone) hands back aware values too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = True, index: bool = False, default: Any = None) -> Any:
    """A UTC timestamp column (`default` is a callable for required ones)."""
    if default is not None:
        return Field(default_factory=default, sa_type=UTCDateTime, nullable=nullable, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _money(*, nullable: bool = True) -> Any:
    return Field(default=None, max_digits=18, decimal_places=4, nullable=nullable)


class WatchMode(StrEnum):
    PRICE = "price"
    STOCK = "stock"
    BOTH = "both"


class Availability(StrEnum):
    IN_STOCK = "in_stock"
    OUT_OF_STOCK = "out_of_stock"
    UNKNOWN = "unknown"


class AlertKind(StrEnum):
    CONFIRMATION = "confirmation"
    PRICE_DROP = "price_drop"
    RESTOCK = "restock"
    PRICE_INCREASE = "price_increase"
    TEST = "test"


LOWEST_WINDOWS = (30, 90, 365)  # the "lowest price in the last N days" rule's choices


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    display_name: str = Field(max_length=120)
    # "" until the first visit stores the browser's zone (shown as UTC until then).
    timezone: str = Field(default="", max_length=64)
    locale: str = Field(default="en", max_length=16)
    is_admin: bool = Field(default=False)
    disabled: bool = Field(default=False)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    # When the owner of `email` proved it by following a link (or an operator vouched for it).
    email_verified_at: datetime | None = _ts()

    # Notification preferences.
    email_alerts: bool = Field(default=True)
    alert_email: str | None = Field(default=None, max_length=320)
    # The alert address whose owner followed a link; alerts go out only while it equals `alert_email`.
    verified_alert_email: str | None = Field(default=None, max_length=320)
    telegram_alerts: bool = Field(default=True)
    telegram_chat_id: int | None = Field(default=None, sa_type=sa.BigInteger, index=True)
    telegram_link_token_hash: str | None = Field(default=None, max_length=64, index=True)
    telegram_link_expires_at: datetime | None = _ts()
    ai_text: bool = Field(default=True)
    ai_tone: str = Field(default="friendly", max_length=20)
    email_channel_error: str | None = Field(default=None, max_length=500)
    telegram_channel_error: str | None = Field(default=None, max_length=500)
    # The "now watching" message; a watch whose first reading meets its rule still says so.
    confirmation_messages: bool = Field(default=True)

    # Rules a new watch starts with (the add-product page fills its options from these).
    default_watch_mode: str = Field(default=WatchMode.PRICE, max_length=10)
    default_drop_percent: Decimal | None = Field(default=None, max_digits=5, decimal_places=2)
    default_lowest_window_days: int | None = Field(default=None)
    default_notify_increase: bool = Field(default=False)


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    expires_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    last_seen_at: datetime = _ts(nullable=False, default=utcnow)
    client_ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class LoginThrottle(SQLModel, table=True):
    """Password attempts per bucket (`auth/throttle.py`): `pair:<client>|<email>`,
    `client:<client>` and `account:<email>`.

    `failures` counts the attempts of the window that began at `first_failure_at` and were
    not given back by a success. Unknown e-mail addresses are counted like known ones, so the
    lock message never tells a stranger which addresses have accounts. On a pair,
    `last_success_at` marks the client as one the owner logs in from.
    """

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=400)
    failures: int = Field(default=0)
    first_failure_at: datetime | None = _ts()
    locked_until: datetime | None = _ts()
    last_success_at: datetime | None = _ts()


class VerificationPurpose(StrEnum):
    SIGNUP = "signup"  # the account is created when the link is followed
    ACCOUNT = "account"  # an existing account's own address
    ALERT = "alert"  # a separate address for alerts
    CHANGE = "change"  # the account's address becomes this one


class EmailVerification(SQLModel, table=True):
    """A one-time link sent to `email`; only the hash of its token is kept.

    For a sign-up it also holds what the account will be made of, so nothing exists
    (and nothing can be logged into) until the owner of the address follows the link.
    """

    __tablename__ = "email_verifications"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    purpose: str = Field(max_length=10)
    email: str = Field(max_length=320, index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, ondelete="CASCADE")
    password_hash: str | None = Field(default=None, max_length=255)
    display_name: str | None = Field(default=None, max_length=120)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    expires_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    used_at: datetime | None = _ts()


class AppriseTarget(SQLModel, table=True):
    """One Apprise URL a person gets alerts at (ntfy, Gotify, a JSON webhook, Discord, …).

    The URL is kept whole because sending needs it; everything that shows it (settings
    page, CLI, logs) shows `apprise_channel.masked_url` instead.
    """

    __tablename__ = "apprise_targets"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=60)
    url: str = Field(sa_type=sa.Text)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    last_status: str | None = Field(default=None, max_length=12)  # sent | failed | retrying
    last_detail: str | None = Field(default=None, max_length=500)
    last_at: datetime | None = _ts()


class RateLimit(SQLModel, table=True):
    """Actions counted per key (`signup-client:<address>`, `test-alert:<user id>`, …) in a fixed window."""

    __tablename__ = "rate_limits"

    key: str = Field(primary_key=True, max_length=400)
    window_started_at: datetime = _ts(nullable=False, default=utcnow)
    count: int = Field(default=0)


class ApiToken(SQLModel, table=True):
    """A personal access token for the REST API; only the hash of its secret is kept.

    Revoking deletes the row, so a revoked token is indistinguishable from one never issued.
    """

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    read_only: bool = Field(default=False)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    last_used_at: datetime | None = _ts()
    expires_at: datetime | None = _ts()


class Product(SQLModel, table=True):
    __tablename__ = "products"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048, unique=True, index=True)
    shop_domain: str = Field(max_length=255, index=True)
    title: str | None = Field(default=None, max_length=500)
    image_url: str | None = Field(default=None, max_length=2048)
    sku: str | None = Field(default=None, max_length=120)
    gtin: str | None = Field(default=None, max_length=32)
    brand: str | None = Field(default=None, max_length=200)
    currency: str | None = Field(default=None, max_length=3)
    last_price: Decimal | None = _money()
    last_was_price: Decimal | None = _money()  # the "was" price the page claimed beside it
    last_availability: str = Field(default=Availability.UNKNOWN, max_length=20)
    availability_raw: str | None = Field(default=None, max_length=40)
    extraction_source: str | None = Field(default=None, max_length=40)
    extraction_confidence: float | None = Field(default=None)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    last_checked_at: datetime | None = _ts()
    last_changed_at: datetime | None = _ts()
    next_check_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    lease_until: datetime | None = _ts()
    lease_owner: str | None = Field(default=None, max_length=64)
    consecutive_failures: int = Field(default=0)
    failing: bool = Field(default=False)
    last_error: str | None = Field(default=None, max_length=500)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    # The last page read in full, for shops that send no validators but the same bytes.
    page_fingerprint: str | None = Field(default=None, max_length=64)
    # What the last check ran into (`tracking.status.ReadingProblem`), None when it read the
    # page; and when a page was last read with a usable result.
    problem: str | None = Field(default=None, max_length=20)
    last_good_at: datetime | None = _ts()
    # A surprising reading waits for its second look (`tracking.second_look`) since then; a
    # column of its own so the unchanged-page fast path can test it in SQL.
    held_since: datetime | None = _ts()
    # The last second look: the held reading, why it was held and, once read again, the outcome.
    second_look: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # Where a language model found the price the rules could not settle (a CSS selector read
    # before a guess on later checks), and when a model was last asked about this page.
    reading_selector: str | None = Field(default=None, max_length=500)
    model_asked_at: datetime | None = _ts()


class Watch(SQLModel, table=True):
    __tablename__ = "watches"
    __table_args__ = (sa.UniqueConstraint("user_id", "product_id", name="uq_watch_user_product"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    product_id: int = Field(foreign_key="products.id", index=True, ondelete="CASCADE")
    mode: str = Field(default=WatchMode.PRICE, max_length=10)
    target_price: Decimal | None = _money()
    active: bool = Field(default=True)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    initial_price: Decimal | None = _money()
    # Price rule memory: armed until a crossing alerts; the price that last alerted.
    price_armed: bool = Field(default=True)
    last_alerted_price: Decimal | None = _money()
    price_crossings: int = Field(default=0)
    # Stock rule memory: whether an out-of-stock state has been seen, and fulfilment.
    seen_out_of_stock: bool = Field(default=False)
    stock_fulfilled: bool = Field(default=False)
    restock_count: int = Field(default=0)
    # Further price rules (see `tracking/rules.py`): at most one of target, percent, window.
    drop_percent: Decimal | None = Field(default=None, max_digits=5, decimal_places=2)
    lowest_window_days: int | None = Field(default=None)
    notify_increase: bool = Field(default=False)
    increase_count: int = Field(default=0)
    # The owner's own price on the shared page (`tracking/picks.py`): the element they picked,
    # what it showed then, and what it showed at the last check that found it.
    price_selector: str | None = Field(default=None, max_length=500)
    picked_price: Decimal | None = _money()
    picked_currency: str | None = Field(default=None, max_length=3)
    picked_at: datetime | None = _ts()
    pick_price: Decimal | None = _money()
    pick_currency: str | None = Field(default=None, max_length=3)
    # Set by the check when the picked element no longer matches ("the page layout changed");
    # cleared when it matches again.
    pick_missing_since: datetime | None = _ts()


class PricePoint(SQLModel, table=True):
    __tablename__ = "price_points"
    __table_args__ = (sa.Index("ix_price_points_product_checked", "product_id", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", ondelete="CASCADE")
    checked_at: datetime = _ts(nullable=False, default=utcnow)
    price: Decimal | None = _money()
    # The "was" or list price the page showed beside `price` (higher, same currency).
    was_price: Decimal | None = _money()
    currency: str | None = Field(default=None, max_length=3)
    availability: str = Field(default=Availability.UNKNOWN, max_length=20)


class PickPoint(SQLModel, table=True):
    """The price history of one picked element of a product page, as the watches that picked
    it saw it (the automatic reading while it was missing); `PricePoint` stays the automatic
    reading alone. Watches that picked the same element share its rows (`selector_key`)."""

    __tablename__ = "pick_points"
    __table_args__ = (sa.Index("ix_pick_points_series", "product_id", "selector_key", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", ondelete="CASCADE")
    selector_key: str = Field(max_length=32)
    checked_at: datetime = _ts(nullable=False, default=utcnow)
    price: Decimal | None = _money()
    currency: str | None = Field(default=None, max_length=3)
    availability: str = Field(default=Availability.UNKNOWN, max_length=20)


class AlertEvent(SQLModel, table=True):
    """Something a user must be told, written before anything is sent."""

    __tablename__ = "alert_events"

    id: int | None = Field(default=None, primary_key=True)
    watch_id: int | None = Field(default=None, foreign_key="watches.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    product_id: int | None = Field(default=None, foreign_key="products.id", ondelete="CASCADE")
    kind: str = Field(max_length=20)
    dedupe_key: str = Field(max_length=200, unique=True)
    created_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    # The facts at the moment of the alert (prices as decimal strings), for composing.
    facts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=12, index=True)
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, sa_type=sa.Text)
    ai_used: bool = Field(default=False)
    fallback_reason: str | None = Field(default=None, max_length=300)
    next_attempt_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    lease_until: datetime | None = _ts()
    lease_owner: str | None = Field(default=None, max_length=64)


class AlertDelivery(SQLModel, table=True):
    """One alert on one channel: its status, attempts and what the provider said."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (sa.UniqueConstraint("event_id", "channel", name="uq_delivery_event_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="alert_events.id", index=True, ondelete="CASCADE")
    channel: str = Field(max_length=20)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=12, index=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False, index=True, default=utcnow)
    lease_until: datetime | None = _ts()
    idempotency_key: str = Field(max_length=100)
    provider_id: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = _ts()


class ImportOutcome(StrEnum):
    PENDING = "pending"
    ADDED = "added"
    WATCHED = "watched"  # already watched by this user
    REFUSED = "refused"


class ImportJob(SQLModel, table=True):
    """One import of a list of links, run in the backend so closing the tab loses nothing."""

    __tablename__ = "import_jobs"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = _ts(nullable=False, default=utcnow)
    finished_at: datetime | None = _ts(index=True)
    total: int = Field(default=0)
    lease_until: datetime | None = _ts()
    lease_owner: str | None = Field(default=None, max_length=64)


class ImportLine(SQLModel, table=True):
    """One link of an import: what was asked for, and what became of it."""

    __tablename__ = "import_lines"
    __table_args__ = (sa.UniqueConstraint("job_id", "position", name="uq_import_line_position"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="import_jobs.id", index=True, ondelete="CASCADE")
    position: int  # the line number in what the user pasted or uploaded
    url: str = Field(max_length=2048)
    mode: str = Field(default=WatchMode.PRICE, max_length=10)
    target_price: Decimal | None = _money()
    any_drop: bool = Field(default=True)
    drop_percent: Decimal | None = Field(default=None, max_digits=5, decimal_places=2)
    lowest_window_days: int | None = Field(default=None)
    notify_increase: bool = Field(default=False)
    paused: bool = Field(default=False)
    # Restored from an export: the rule state the watch had.
    initial_price: Decimal | None = _money()
    stock_fulfilled: bool = Field(default=False)
    restoring: bool = Field(default=False)
    attempts: int = Field(default=0)
    outcome: str = Field(default=ImportOutcome.PENDING, max_length=10)
    message: str | None = Field(default=None, max_length=500)
    watch_id: int | None = Field(default=None)
