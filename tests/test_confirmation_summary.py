"""Adding many watches at once sends one "now watching" summary per person, not one message each."""

from __future__ import annotations

from datetime import timedelta

import pytest

from benchmarks.shop import LocalShop
from cloudtrack_app.models import utcnow
from cloudtrack_app.notify.dispatch import dispatch_pending
from cloudtrack_app.tracking.fetch import close_clients
from cloudtrack_app.tracking.ingest import add_watch
from tests.engine_fixtures import EDUSCHO_SHELF, OTTO_GLASS, alert_events, local_shop_settings
from tests.notify_fixtures import Stubs, load_event, make_user
from tests.notify_fixtures import stubs_fixture as stubs_fixture


@pytest.fixture
async def shop(stubs: Stubs, monkeypatch: pytest.MonkeyPatch):
    local_shop_settings(monkeypatch, CONFIRMATION_SUMMARY_SECONDS="10")
    with LocalShop() as running:
        running.add_corpus_page("/shelf", EDUSCHO_SHELF)  # 99.95 EUR, in stock
        running.add_corpus_page("/shelf-oak", EDUSCHO_SHELF)
        running.add_corpus_page("/glass", OTTO_GLASS)  # 56.74 EUR
        running.set_availability("/glass", "OutOfStock")
        yield running
    await close_clients()


def emails_to(stubs: Stubs, address: str) -> list[dict]:
    return [email for email in stubs.resend.emails if address in email["to"]]


async def test_many_new_watches_make_one_summary_and_a_single_one_its_own_message(
    stubs: Stubs, shop: LocalShop
) -> None:
    ada = make_user("ada@example.com", "Ada", ai_text=False)
    bob = make_user("bob@example.com", "Bob", ai_text=False)
    await add_watch(ada.id, shop.url("/shelf"), "price", "90")
    await add_watch(ada.id, shop.url("/shelf-oak"), "price", None, drop_percent="10")
    await add_watch(ada.id, shop.url("/glass"), "stock", None)
    await add_watch(bob.id, shop.url("/shelf"), "price", None, any_drop=True)

    # Held for more new watches: nothing is sent straight away.
    assert (await dispatch_pending()).claimed == 0
    report = await dispatch_pending(utcnow() + timedelta(seconds=11))
    assert report.claimed == 4

    [summary] = emails_to(stubs, "ada@example.com")
    assert summary["subject"] == "Now watching 3 new products"
    assert (
        f"Massivholz-Waschmaschinenregal ({shop.host}:{shop.port}) at €99.95: I'll tell you when it drops to €90.00 or below."
        in summary["text"]
    )
    assert "I'll tell you when it drops by 10% or more." in summary["text"]
    assert "I'll tell you when it is back in stock." in summary["text"]
    assert "Shop:" not in summary["text"] and "Turn off alerts for this product" not in summary["text"]
    [single] = emails_to(stubs, "bob@example.com")
    assert single["subject"] == "Now watching Massivholz-Waschmaschinenregal at €99.95"
    assert "I'll tell you when the price drops." in single["text"]

    ada_events = [event for event in alert_events(ada.id)]
    statuses = [load_event(event.id)[0] for event in ada_events if event.id is not None]
    assert [event.status for event in statuses] == ["sent", "skipped", "skipped"]
    assert all("Told in one summary of 3 new watches" in (e.fallback_reason or "") for e in statuses[1:])
    assert (await dispatch_pending(utcnow() + timedelta(minutes=1))).claimed == 0
