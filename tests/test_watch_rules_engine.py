"""The rules people ask for, end to end: a real local shop, real checks, real history in the database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import select

from benchmarks.shop import LocalShop
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import PricePoint, User
from cloudtrack_app.notify.compose import template_message
from cloudtrack_app.notify.facts import read_facts
from cloudtrack_app.tracking.checker import Checker
from cloudtrack_app.tracking.fetch import close_clients
from cloudtrack_app.tracking.ingest import IngestError, add_watch
from cloudtrack_app.tracking.watches import edit_watch
from tests.engine_fixtures import EDUSCHO_SHELF, alert_events, local_shop_settings, make_due, make_user

D = Decimal


@pytest.fixture
async def shop(db_url: str, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch)
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        yield running
    await close_clients()


async def cycle() -> None:
    make_due()
    await Checker().run_cycle()


def told(seen: int) -> list[tuple[int, str, str, str | None]]:
    return sorted((e.user_id, e.kind, e.facts["reason"], e.facts["price"]) for e in alert_events()[seen:])


def confirmations_off(user_id: int) -> None:
    with session_scope() as session:
        session.execute(sa.update(User).where(User.id == user_id).values(confirmation_messages=False))


async def test_percent_drop_new_low_and_increase_rules_alert_once_per_crossing(shop: LocalShop) -> None:
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    low = await add_watch(ada, shop.url("/shelf"), "price", None, lowest_window_days=90)
    pct = await add_watch(bob, shop.url("/shelf"), "price", None, drop_percent="10", notify_increase=True)
    assert "lowest of the last 90 days" in low.message
    assert "drops by 10% or more" in pct.message and "hear when the price goes up" in pct.message
    seen = len(alert_events())

    shop.set_price("/shelf", D("95.00"))  # a new 90-day low; only 5 % below Bob's start
    await cycle()
    assert told(seen) == [(ada, "price_drop", "lowest_in_window", "95.00")]
    seen += 1

    shop.set_price("/shelf", D("97.00"))  # a rise: Bob asked to hear about it
    await cycle()
    assert told(seen) == [(bob, "price_increase", "price_increase", "97.00")]
    seen += 1

    shop.set_price("/shelf", D("96.00"))  # not below the 95.00 already recorded
    await cycle()
    assert told(seen) == []

    shop.set_price("/shelf", D("89.90"))  # a new low for Ada, and 10 % below Bob's 99.95
    await cycle()
    assert told(seen) == [
        (ada, "price_drop", "lowest_in_window", "89.90"),
        (bob, "price_drop", "percent_drop", "89.90"),
    ]
    events = {e.user_id: e for e in alert_events()[seen:]}
    assert events[ada].facts["lowest_window_days"] == 90
    assert events[bob].facts["drop_percent"] == "10.00"


async def test_the_confirmation_switch_is_on_by_default_and_off_means_no_start_message(
    shop: LocalShop,
) -> None:
    ada, bob = make_user("ada@example.com"), make_user("bob@example.com")
    confirmations_off(bob)
    await add_watch(ada, shop.url("/shelf"), "price", "90")
    await add_watch(bob, shop.url("/shelf"), "price", "90")
    assert [(e.user_id, e.kind) for e in alert_events()] == [(ada, "confirmation")]


async def test_with_confirmations_off_a_first_reading_that_meets_the_rule_is_still_told(
    shop: LocalShop,
) -> None:
    ada = make_user()
    confirmations_off(ada)
    result = await add_watch(ada, shop.url("/shelf"), "price", "99.95")
    assert result.target_met
    (event,) = alert_events()
    assert event.kind == "confirmation" and event.facts["target_met"] is True


@pytest.mark.parametrize(
    ("mode", "target", "rules", "words"),
    [
        ("price", "90", {"drop_percent": "10"}, "Choose one price rule"),
        ("price", None, {"drop_percent": "ten"}, "number of percent"),
        ("price", None, {"drop_percent": "150"}, "at most 99 %"),
        ("price", None, {"lowest_window_days": "45"}, "30, 90 or 365 days"),
        ("stock", None, {"notify_increase": True}, "A stock watch has no price rules"),
    ],
)
async def test_bad_rules_are_refused_in_plain_words_and_save_nothing(
    shop: LocalShop, mode: str, target: str | None, rules: dict, words: str
) -> None:
    ada = make_user()
    with pytest.raises(IngestError) as refused:
        await add_watch(ada, shop.url("/shelf"), mode, target, **rules)
    assert words in refused.value.message
    assert alert_events() == [] and shop.request_count("/shelf") == 0


async def test_editing_a_watch_sets_and_clears_its_rules(shop: LocalShop) -> None:
    ada = make_user()
    added = await add_watch(ada, shop.url("/shelf"), "price", "90")
    edited = edit_watch(ada, added.watch_id, mode="price", target_price=None, lowest_window_days="30")
    assert (edited.watch.lowest_window_days, edited.watch.target_price, edited.watch.any_drop) == (
        30,
        None,
        False,
    )
    edited = edit_watch(
        ada, added.watch_id, mode="both", target_price=None, drop_percent="15", notify_increase=True
    )
    assert (edited.watch.drop_percent, edited.watch.lowest_window_days, edited.watch.notify_increase) == (
        D("15"),
        None,
        True,
    )
    edited = edit_watch(ada, added.watch_id, mode="price", target_price="80")  # as before the new rules
    assert (edited.watch.target_price, edited.watch.drop_percent, edited.watch.notify_increase) == (
        D("80"),
        None,
        False,
    )
    with pytest.raises(IngestError, match="Choose one price rule"):
        edit_watch(ada, added.watch_id, mode="price", target_price="80", drop_percent="5", any_drop=False)


async def test_a_new_low_with_less_history_than_the_window_says_how_many_days_it_is_based_on(
    shop: LocalShop,
) -> None:
    ada = make_user("ada@example.com")
    await add_watch(ada, shop.url("/shelf"), "price", None, lowest_window_days=90)
    with session_scope() as session:  # the shelf has been watched for twelve days
        for point in session.exec(select(PricePoint)).all():
            point.checked_at -= timedelta(days=12)
            session.add(point)
    seen = len(alert_events())

    shop.set_price("/shelf", D("95.00"))
    await cycle()

    (event,) = alert_events()[seen:]
    assert (event.facts["reason"], event.facts["history_days"]) == ("lowest_in_window", 12)
    alert = read_facts(
        event.facts, kind=event.kind, display_name="Ada", locale="en", public_url="https://ct.example"
    )
    assert "the lowest price in the 12 days CloudTrack has watched it (you chose 90 days)" in (
        template_message(alert, None).body
    )
