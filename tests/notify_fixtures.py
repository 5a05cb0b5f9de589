"""Fixtures and factories shared by the notification tests (import them into a test module)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from cloudtrack_app.auth.accounts import create_user
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AlertDelivery, AlertEvent, AlertKind, Product, User, Watch
from cloudtrack_app.settings import get_settings
from tests.stubs import RESEND_TEST_KEY, TELEGRAM_TEST_TOKEN, OpenAIStub, ResendStub, TelegramStub

PUBLIC_URL = "https://cloudtrack.example"


@dataclass
class Stubs:
    resend: ResendStub
    telegram: TelegramStub
    openai: OpenAIStub


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture(name="stubs")
def stubs_fixture(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    """All three providers as local servers, and CloudTrack configured to use them (AI on)."""
    with ResendStub() as resend, TelegramStub() as telegram, OpenAIStub() as openai:
        configure(
            monkeypatch,
            RESEND_API_KEY=RESEND_TEST_KEY,
            RESEND_API_URL=resend.url,
            EMAIL_FROM="CloudTrack <alerts@cloudtrack.example>",
            TELEGRAM_BOT_TOKEN=TELEGRAM_TEST_TOKEN,
            TELEGRAM_API_URL=telegram.url,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=openai.url,
            OPENAI_MODEL="stub-model",
            AI_TIMEOUT="5",
            PUBLIC_URL=PUBLIC_URL,
            SECRET_KEY="test-secret-key-for-notify",
            NOTIFY_SEND_TIMEOUT="5",
        )
        yield Stubs(resend, telegram, openai)
    get_settings.cache_clear()


def make_user(email: str = "alex@example.com", name: str = "Alex", **prefs: Any) -> User:
    current = create_user(email, "correct horse battery", name)
    with session_scope() as db:
        user = db.get(User, current.id)
        assert user is not None
        for key, value in prefs.items():
            setattr(user, key, value)
        db.flush()
        db.expunge(user)
        return user


def make_watch(
    user_id: int,
    *,
    title: str = "Acme Coffee Grinder",
    url: str = "https://shop.example/grinder",
    target: str | None = "80.00",
    mode: str = "price",
) -> tuple[Product, Watch]:
    with session_scope() as db:
        product = Product(
            url=f"{url}?v={secrets.token_hex(4)}",
            shop_domain="shop.example",
            title=title,
            currency="EUR",
            last_price=Decimal("79.90"),
        )
        db.add(product)
        db.flush()
        watch = Watch(
            user_id=user_id,
            product_id=product.id,
            mode=mode,
            target_price=Decimal(target) if target else None,
        )
        db.add(watch)
        db.flush()
        return product, watch


# The facts of a sample price drop, without the product's title and ids.
PRICE_DROP_FACTS: dict[str, Any] = {
    "shop": "Example Shop",
    "url": "https://shop.example/grinder",
    "image": "https://shop.example/grinder.jpg",
    "currency": "EUR",
    "price": "79.90",
    "previous_price": "99.00",
    "target_price": "80.00",
    "lowest_90d": "79.90",
    "average_90d": "95.50",
    "lowest_ever": "75.00",
    "good_deal": True,
}


def price_drop_facts(product: Product, watch: Watch, **overrides: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "title": product.title,
        **PRICE_DROP_FACTS,
        "availability": "in_stock",
        "product_id": product.id,
        "watch_id": watch.id,
        "mode": watch.mode,
    }
    facts.update(overrides)
    return facts


def make_event(
    user_id: int,
    product: Product | None = None,
    watch: Watch | None = None,
    *,
    kind: str = AlertKind.PRICE_DROP,
    facts: dict[str, Any] | None = None,
) -> int:
    with session_scope() as db:
        event = AlertEvent(
            user_id=user_id,
            watch_id=watch.id if watch else None,
            product_id=product.id if product else None,
            kind=kind,
            dedupe_key=f"{kind}:{secrets.token_hex(6)}",
            facts=facts if facts is not None else price_drop_facts(product, watch),  # type: ignore[arg-type]
        )
        db.add(event)
        db.flush()
        assert event.id is not None
        return event.id


def load_event(event_id: int) -> tuple[AlertEvent, list[AlertDelivery]]:
    with session_scope() as db:
        event = db.get(AlertEvent, event_id)
        assert event is not None
        deliveries = list(
            db.exec(
                select(AlertDelivery)
                .where(AlertDelivery.event_id == event_id)
                .order_by(AlertDelivery.channel)
            )
        )
        return event, deliveries


def load_user(user_id: int) -> User:
    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        return user
