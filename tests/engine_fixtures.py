"""Helpers for the tracking-engine tests: accounts, products and watches written directly."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import select

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AlertEvent, PricePoint, Product, User, Watch, utcnow
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.urls import canonical_url, shop_domain

# Real saved pages whose price and stock are in structured data the shop can rewrite.
EDUSCHO_SHELF = "zpeb_3ef9ddf56392c917"  # 99.95 EUR, in stock, JSON-LD
CURRYS_SELFIE_STICK = "zpeb_7a082dd9d7489842"  # 9.99 EUR, in stock, JSON-LD
OTTO_GLASS = "zpeb_e1c58cf210afd7bb"  # 56.74 EUR, in stock, microdata
SMALL_PAGE = "zpeb_bc5a68d0c2c02a75"  # 3.56 EUR, a small page that parses fast


def make_user(email: str = "ada@example.com") -> int:
    with session_scope() as session:
        user = User(email=email, password_hash="-", display_name=email.split("@")[0])
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


def seed_products(
    urls: list[str],
    user_id: int,
    *,
    etag: str | None = None,
    price: Decimal | None = None,
    currency: str | None = "EUR",
    mode: str = "price",
    target: Decimal | None = None,
) -> list[int]:
    """Products as after an earlier check, due now, each with one watch of `user_id`."""
    now = utcnow()
    ids = []
    with session_scope() as session:
        for url in urls:
            url = canonical_url(url)
            product = Product(
                url=url,
                shop_domain=shop_domain(url),
                currency=currency,
                last_price=price,
                last_availability="in_stock",
                last_checked_at=now - timedelta(hours=6),
                next_check_at=now - timedelta(seconds=1),
                etag=etag,
            )
            session.add(product)
            session.flush()
            assert product.id is not None
            ids.append(product.id)
            session.add(Watch(user_id=user_id, product_id=product.id, mode=mode, target_price=target))
    return ids


def product(product_id: int) -> Product:
    with session_scope() as session:
        found = session.get(Product, product_id)
        assert found is not None
        return found


def points(product_id: int) -> list[tuple[Decimal | None, str]]:
    with session_scope() as session:
        rows = session.exec(
            select(PricePoint).where(PricePoint.product_id == product_id).order_by(PricePoint.checked_at)
        ).all()
        return [(row.price.normalize() if row.price is not None else None, row.availability) for row in rows]


def alert_events(user_id: int | None = None) -> list[AlertEvent]:
    with session_scope() as session:
        query = select(AlertEvent).order_by(AlertEvent.id)
        if user_id is not None:
            query = query.where(AlertEvent.user_id == user_id)
        return list(session.exec(query).all())


def make_due(*product_ids: int) -> None:
    """Time passes: the products are due again (jump to their next check)."""
    query = sa.update(Product).values(next_check_at=utcnow() - timedelta(seconds=1))
    if product_ids:
        query = query.where(Product.id.in_(product_ids))
    with session_scope() as session:
        session.execute(query)


def local_shop_settings(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """Settings for checking a shop on 127.0.0.1 quickly, in this process."""
    for name, value in {"CLOUDTRACK_ALLOW_PRIVATE_URLS": "true", "PER_SHOP_DELAY": "0", **extra}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cloudtrack_app.cli", *args]


def cli_env(**extra: str) -> dict[str, str]:
    """The test's environment (DATABASE_URL from the fixture) for a CLI subprocess."""
    env = dict(os.environ)
    env.update({"CLOUDTRACK_ALLOW_PRIVATE_URLS": "true", "PER_SHOP_DELAY": "0", **extra})
    return env
