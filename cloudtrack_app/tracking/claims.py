"""Leases on products, so several workers or replicas never check one product twice.

Due products are claimed with one statement,
`UPDATE products … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING`: PostgreSQL
skips rows another claimer holds; SQLite has no row locks but runs each UPDATE atomically
under its single write lock. A worker that dies keeps its lease until it expires, then any
worker claims the product again.

When a product is due again after a check (`next_check_delay`, `retry_delay`) is decided
here too, so a new product and a checked one are spread over the cycle alike.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloudtrack_app.db import get_engine
from cloudtrack_app.models import Product, Watch, WatchMode, utcnow
from cloudtrack_app.settings import Settings

MAX_BACKOFF = timedelta(hours=24)
_rng = random.Random()


@dataclass(frozen=True)
class ClaimedProduct:
    id: int
    url: str
    shop_domain: str
    etag: str | None
    last_modified: str | None
    page_fingerprint: str | None
    consecutive_failures: int
    last_price: Decimal | None
    currency: str | None
    last_availability: str
    last_checked_at: datetime | None
    last_was_price: Decimal | None
    reading_selector: str | None = None
    model_asked_at: datetime | None = None
    # The distinct selectors its active watches picked (`picks`): read on the same page.
    selectors: tuple[str, ...] = ()


_RETURNING = (
    Product.id,
    Product.url,
    Product.shop_domain,
    Product.etag,
    Product.last_modified,
    Product.page_fingerprint,
    Product.consecutive_failures,
    Product.last_price,
    Product.currency,
    Product.last_availability,
    Product.last_checked_at,
    Product.last_was_price,
    Product.reading_selector,
    Product.model_asked_at,
)


def next_check_delay(settings: Settings, rng: random.Random | None = None) -> timedelta:
    """The check interval with per-product jitter, so a shop's products spread over the cycle."""
    factor = 1 + (rng or _rng).uniform(-settings.check_jitter, settings.check_jitter)
    return timedelta(seconds=settings.check_interval * factor)


def retry_delay(settings: Settings, failures: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff after `failures` failed checks in a row (capped at a day)."""
    base = max(300.0, settings.check_interval / 8)
    seconds = min(MAX_BACKOFF.total_seconds(), base * 2 ** max(0, failures - 1))
    return timedelta(seconds=seconds * (1 + (rng or _rng).uniform(0, settings.check_jitter)))


def new_worker_id(role: str = "worker") -> str:
    """An owner name for leases: unique per process and start, readable in the database."""
    return f"{role}:{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def has_checkable_watch() -> sa.ColumnElement[bool]:
    """An active watch still waiting for something (a fulfilled stock watch is not)."""
    return (
        sa.select(Watch.id)
        .where(
            Watch.product_id == Product.id,
            Watch.active.is_(True),
            sa.not_(sa.and_(Watch.mode == WatchMode.STOCK, Watch.stock_fulfilled.is_(True))),
        )
        .exists()
    )


def _lease_free(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(Product.lease_until.is_(None), Product.lease_until < now)


def claim_due(
    owner: str,
    *,
    limit: int,
    lease_seconds: int,
    now: datetime | None = None,
    engine: Engine | None = None,
) -> list[ClaimedProduct]:
    """Lease up to `limit` due products with a checkable watch, oldest due first."""
    now = now or utcnow()
    due = (
        sa.select(Product.id)
        .where(Product.next_check_at <= now, _lease_free(now), has_checkable_watch())
        .order_by(Product.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Product)
    )
    claim = (
        sa.update(Product)
        .where(Product.id.in_(due.scalar_subquery()), _lease_free(now))
        .values(lease_until=now + timedelta(seconds=lease_seconds), lease_owner=owner)
        .returning(*_RETURNING)
    )
    with (engine or get_engine()).begin() as connection:
        rows = connection.execute(claim).all()
        picks = _picked_selectors(connection, [row[0] for row in rows])
    return [ClaimedProduct(*row, selectors=picks.get(row[0], ())) for row in rows]


def _picked_selectors(connection: sa.Connection, product_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Each product's distinct picked selectors among its active watches (most products: none)."""
    if not product_ids:
        return {}
    query = (
        sa.select(Watch.product_id, Watch.price_selector)
        .where(
            Watch.product_id.in_(product_ids),
            Watch.active.is_(True),
            Watch.price_selector.is_not(None),
        )
        .distinct()
        .order_by(Watch.product_id, Watch.price_selector)
    )
    found: dict[int, tuple[str, ...]] = {}
    for product_id, selector in connection.execute(query):
        found[product_id] = (*found.get(product_id, ()), selector)
    return found


def claim_product(
    product_id: int,
    owner: str,
    *,
    lease_seconds: int,
    now: datetime | None = None,
    engine: Engine | None = None,
) -> ClaimedProduct | None:
    """Lease one product now, due or not; None when another worker holds it (or it is gone)."""
    now = now or utcnow()
    claim = (
        sa.update(Product)
        .where(Product.id == product_id, _lease_free(now))
        .values(lease_until=now + timedelta(seconds=lease_seconds), lease_owner=owner)
        .returning(*_RETURNING)
    )
    with (engine or get_engine()).begin() as connection:
        row = connection.execute(claim).first()
        if row is None:
            return None
        picks = _picked_selectors(connection, [row[0]])
    return ClaimedProduct(*row, selectors=picks.get(row[0], ()))


def release(product_ids: list[int], owner: str, *, engine: Engine | None = None) -> int:
    """Give leases back without a check (shutdown before the work started)."""
    if not product_ids:
        return 0
    query = (
        sa.update(Product)
        .where(Product.id.in_(product_ids), Product.lease_owner == owner)
        .values(lease_until=None, lease_owner=None)
    )
    with (engine or get_engine()).begin() as connection:
        return connection.execute(query).rowcount


def count_due(now: datetime | None = None, *, engine: Engine | None = None) -> int:
    now = now or utcnow()
    query = sa.select(sa.func.count(Product.id)).where(Product.next_check_at <= now, has_checkable_watch())
    with (engine or get_engine()).connect() as connection:
        return int(connection.execute(query).scalar() or 0)
