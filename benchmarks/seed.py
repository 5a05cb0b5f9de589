"""Fill a database with a user who watches many products with long histories.

For the UI benchmark and the screenshots: the rows are written straight to the
database (as the checker would have written them over a year), so no shop is needed.
Products get a next check a year away, so a running scheduler leaves them alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from cloudtrack_app.auth.accounts import create_user
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Availability, PricePoint, Product, Watch, WatchMode, utcnow

SHOPS = [
    "shop.example",
    "boutique.example.fr",
    "laden.example.de",
    "tienda.example.es",
    "store.example.co.uk",
]
CURRENCIES = {"shop.example": "USD", "store.example.co.uk": "GBP"}
NAMES = [
    "Espresso machine",
    "Trail running shoes",
    "Noise-cancelling headphones",
    "Cast-iron pan",
    "Mechanical keyboard",
    "Camping tent",
    "E-reader",
    "Robot vacuum",
    "Board game",
    "Desk lamp",
]


@dataclass(frozen=True)
class SeededUser:
    user_id: int
    email: str
    product_ids: list[int]


def price_walk(rng: random.Random, start: Decimal, days: int) -> list[tuple[int, Decimal, str]]:
    """(day, price, availability) on the days something changed, plus one point a day."""
    points = []
    price, available = start, True
    for day in range(days):
        if rng.random() < 0.08:
            price = max(
                Decimal("1.00"), (price * Decimal(str(rng.uniform(0.85, 1.12)))).quantize(Decimal("0.01"))
            )
        if rng.random() < 0.01:
            available = not available
        points.append((day, price, Availability.IN_STOCK if available else Availability.OUT_OF_STOCK))
    return points


def seed_watches(
    email: str, password: str, watches: int, *, days: int = 365, display_name: str = "Bench", seed: int = 7
) -> SeededUser:
    rng = random.Random(seed)
    user = create_user(email, password, display_name)
    now = utcnow()
    start = now - timedelta(days=days)
    product_ids: list[int] = []
    with session_scope() as session:
        for number in range(watches):
            shop = SHOPS[number % len(SHOPS)]
            currency = CURRENCIES.get(shop, "EUR")
            first = Decimal(rng.randrange(1500, 90000)) / 100
            history = price_walk(rng, first, days)
            _, last_price, last_availability = history[-1]
            product = Product(
                url=f"https://{shop}/p/{user.id}-{number}",
                shop_domain=shop,
                title=f"{NAMES[number % len(NAMES)]} {number + 1}",
                currency=currency,
                last_price=last_price,
                last_availability=last_availability,
                last_checked_at=now - timedelta(minutes=rng.randrange(5, 600)),
                last_changed_at=now - timedelta(days=rng.randrange(0, 30)),
                next_check_at=now + timedelta(days=365),
                created_at=start,
            )
            session.add(product)
            session.flush()
            assert product.id is not None
            product_ids.append(product.id)
            mode = [WatchMode.PRICE, WatchMode.BOTH, WatchMode.STOCK][number % 3]
            target = None if mode == WatchMode.STOCK else (first * Decimal("0.8")).quantize(Decimal("0.01"))
            session.add(
                Watch(
                    user_id=user.id,
                    product_id=product.id,
                    mode=mode,
                    target_price=target,
                    initial_price=first,
                    created_at=start,
                )
            )
            session.execute(
                sa.insert(PricePoint),
                [
                    {
                        "product_id": product.id,
                        "checked_at": start + timedelta(days=day, hours=9),
                        "price": price,
                        "currency": currency,
                        "availability": availability,
                    }
                    for day, price, availability in history
                ],
            )
    return SeededUser(user.id, user.email, product_ids)
