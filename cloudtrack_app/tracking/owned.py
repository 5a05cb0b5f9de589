"""A user's own watch, or `WatchNotFound`: the ownership check of every watch action.

Another user's watch id is answered exactly like a missing one, so ids reveal nothing.
Its own module because both the watch actions (`watches`) and the pick actions (`picks`,
which ingestion uses too) need it.
"""

from __future__ import annotations

from sqlmodel import Session

from cloudtrack_app.models import Product, Watch
from cloudtrack_app.tracking.observations import lock_product


class WatchNotFound(LookupError):
    """No such watch for this user."""

    def __init__(self) -> None:
        super().__init__("That watch does not exist (or belongs to someone else).")


def owned_watch(session: Session, user_id: int, watch_id: int) -> Watch:
    watch = session.get(Watch, watch_id)
    if watch is None or watch.user_id != user_id:
        raise WatchNotFound
    return watch


def locked_watch(session: Session, user_id: int, watch_id: int) -> tuple[Watch, Product]:
    """The watch and its product, with the product locked as every rule-memory writer does."""
    watch = owned_watch(session, user_id, watch_id)
    lock_product(session, watch.product_id)
    session.refresh(watch)
    product = session.get(Product, watch.product_id, populate_existing=True)
    assert product is not None
    return watch, product
