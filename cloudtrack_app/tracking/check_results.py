"""What one check found, and writing it: the database side of a check.

Each result is written under the product's lease: a worker that lost it (it was too slow,
another worker took over) writes nothing for that product. The common case, a page that
still says what it said, takes one UPDATE; everything else locks the product and goes
through `observations`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Availability, PricePoint, Product
from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking import claims
from cloudtrack_app.tracking.claims import next_check_delay, retry_delay
from cloudtrack_app.tracking.extract import Extraction
from cloudtrack_app.tracking.history import needs_point
from cloudtrack_app.tracking.observations import (
    apply_page_details,
    lock_product,
    mark_read,
    observation_of,
    record_observation,
)
from cloudtrack_app.tracking.rules import Observation

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500
NO_PRICE_MESSAGE = "The page no longer shows a price (the shop may have changed the page)."


class CheckStatus(StrEnum):
    CHANGED = "changed"  # price, currency or availability differs from the last check
    UNCHANGED = "unchanged"  # fetched and read, same as before
    NOT_MODIFIED = "not_modified"  # the shop answered 304: nothing to read
    SAME_PAGE = "same_page"  # the shop sent the very bytes read last time: nothing to read
    FAILED = "failed"  # the page could not be fetched or read; see `message`
    DEFERRED = "deferred"  # its shop is paused after repeated failures; retried later
    BUSY = "busy"  # another worker is checking it right now
    NOT_FOUND = "not_found"
    LOST_LEASE = "lost_lease"  # another worker took over; its result stands


@dataclass(frozen=True)
class CheckOutcome:
    product_id: int
    status: CheckStatus
    message: str = ""
    price: Decimal | None = None
    currency: str | None = None
    availability: str = Availability.UNKNOWN
    alerts: int = 0
    failing: bool = False
    checked_at: datetime | None = None

    @property
    def summary(self) -> str:
        """One sentence for the person who asked for the check."""
        if self.message:
            return self.message
        if self.status == CheckStatus.CHANGED:
            return "Checked just now: the price or stock has changed."
        return "Checked just now: no change."


@dataclass(frozen=True)
class PageResult:
    """What the network and the extractor said about one claimed product."""

    product: claims.ClaimedProduct
    checked_at: datetime
    observation: Observation | None = None
    extraction: Extraction | None = None
    # NOT_MODIFIED or SAME_PAGE when nothing was read because nothing changed.
    unread: CheckStatus | None = None
    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    error: str | None = None
    transient: bool = False
    deferred_until: datetime | None = None


# Built once: the unchanged case is most checks, and building statements costs more than running them.
_UPDATE_UNCHANGED = (
    sa.update(Product)
    .where(
        Product.id == sa.bindparam("b_id"),
        Product.lease_owner == sa.bindparam("b_owner"),
        Product.last_price.is_not_distinct_from(sa.bindparam("b_price")),
        Product.currency.is_not_distinct_from(sa.bindparam("b_currency")),
        Product.last_availability == sa.bindparam("b_availability"),
        Product.last_checked_at == sa.bindparam("b_checked"),
    )
    .values(
        lease_until=None,
        lease_owner=None,
        last_checked_at=sa.bindparam("b_now"),
        next_check_at=sa.bindparam("b_next"),
        consecutive_failures=0,
        failing=False,
        last_error=None,
        etag=sa.bindparam("b_etag"),
        last_modified=sa.bindparam("b_last_modified"),
        page_fingerprint=sa.bindparam("b_fingerprint"),
    )
)


def _claimed_observation(product: claims.ClaimedProduct) -> Observation:
    return Observation(product.last_price, product.currency, product.last_availability)


def _save_unchanged(
    session: Session, page: PageResult, owner: str, settings: Settings, current: Observation
) -> CheckOutcome | None:
    """The common case in two statements at most; None when the product moved on since the claim."""
    claimed = page.product
    now = page.checked_at
    if claimed.last_checked_at is None:
        return None
    parameters = {
        "b_id": claimed.id,
        "b_owner": owner,
        "b_price": claimed.last_price,
        "b_currency": claimed.currency,
        "b_availability": claimed.last_availability,
        "b_checked": claimed.last_checked_at,
        "b_now": now,
        "b_next": now + next_check_delay(settings),
        "b_etag": (page.etag or "")[:500] or None,
        "b_last_modified": (page.last_modified or "")[:100] or None,
        "b_fingerprint": page.fingerprint,
    }
    if session.connection().execute(_UPDATE_UNCHANGED, parameters).rowcount != 1:
        return None
    if needs_point(current, claimed.last_checked_at, current, now):
        session.execute(
            sa.insert(PricePoint).values(
                product_id=claimed.id,
                checked_at=now,
                price=current.price,
                currency=current.currency,
                availability=current.availability,
            )
        )
    status = page.unread or CheckStatus.UNCHANGED
    return CheckOutcome(
        claimed.id, status, "", current.price, current.currency, current.availability, 0, False, now
    )


def _currency_changed(known: str | None, seen: str | None) -> bool:
    return bool(known and seen and known != seen)


def _save_one(session: Session, page: PageResult, owner: str, settings: Settings) -> CheckOutcome:
    product_id = page.product.id
    now = page.checked_at
    if page.deferred_until is None and page.error is None:
        claimed = _claimed_observation(page.product)
        seen = claimed if page.unread else page.observation
        readable = seen is not None and (
            seen.price is not None or seen.availability == Availability.OUT_OF_STOCK
        )
        # Picked prices are read and recorded per watch: the one-statement path knows none.
        if readable and seen == claimed and not page.product.selectors:
            outcome = _save_unchanged(session, page, owner, settings, claimed)
            if outcome is not None:
                return outcome
    if not lock_product(session, product_id, owner):
        return CheckOutcome(product_id, CheckStatus.LOST_LEASE, "Another worker took this check over.")
    product = session.get(Product, product_id, populate_existing=True)
    assert product is not None
    product.lease_until = None
    product.lease_owner = None
    if page.deferred_until is not None:
        product.next_check_at = page.deferred_until
        session.add(product)
        return CheckOutcome(product_id, CheckStatus.DEFERRED, "The shop is not answering; retrying later.")
    observation = page.observation
    error = page.error
    if (
        error is None
        and observation is not None
        and observation.price is None
        and observation.availability != Availability.OUT_OF_STOCK
    ):
        error = NO_PRICE_MESSAGE
    if (
        error is None
        and observation is not None
        and _currency_changed(product.currency, observation.currency)
    ):
        error = (
            f"The page now shows prices in {observation.currency} instead of {product.currency}, "
            "so price targets no longer compare; add the watch again to track the new price."
        )
    if error is not None:
        product.page_fingerprint = None  # the same page must be read again, not taken as fine
        product.consecutive_failures += 1
        product.failing = product.consecutive_failures >= settings.failure_threshold
        product.last_error = error[:MAX_ERROR_CHARS]
        product.next_check_at = now + retry_delay(settings, product.consecutive_failures)
        session.add(product)
        return CheckOutcome(
            product_id,
            CheckStatus.FAILED,
            error,
            product.last_price,
            product.currency,
            product.last_availability,
            failing=product.failing,
            checked_at=now,
        )
    previous = observation_of(product)
    previous_check_at = product.last_checked_at
    current = previous if page.unread or observation is None else observation
    assert current is not None
    if page.extraction is not None:
        apply_page_details(product, page.extraction)
    mark_read(product, page.etag, page.last_modified)
    product.page_fingerprint = page.fingerprint
    product.last_checked_at = now
    product.next_check_at = now + next_check_delay(settings)
    picked = page.extraction.picked if page.extraction is not None and not page.unread else None
    alerts = record_observation(session, product, previous, previous_check_at, current, now, picked)
    status = page.unread or (CheckStatus.CHANGED if previous != current else CheckStatus.UNCHANGED)
    return CheckOutcome(
        product_id, status, "", current.price, current.currency, current.availability, alerts, False, now
    )


def save_results(pages: list[PageResult], owner: str, settings: Settings) -> list[CheckOutcome]:
    """Write a group of results in one transaction; one by one if the group fails."""
    try:
        with session_scope() as session:
            return [_save_one(session, page, owner, settings) for page in pages]
    except Exception:
        if len(pages) == 1:
            log.exception("saving the check of product %s failed", pages[0].product.id)
            page = pages[0]
            return [CheckOutcome(page.product.id, CheckStatus.FAILED, "The result could not be saved.")]
    return [outcome for page in pages for outcome in save_results([page], owner, settings)]
