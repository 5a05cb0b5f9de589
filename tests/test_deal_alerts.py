"""An alert about a product whose page claims a discount says whether the claim holds: in the
stored facts, the template, the fact lines and, only through placeholders, the model's wording."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cloudtrack_app.models import AlertKind, Product, Watch
from cloudtrack_app.notify.compose import ComposedMessage, compose, model_input, template_message
from cloudtrack_app.notify.facts import AlertFacts, fact_rows, read_facts
from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.deals import DealCheck, DealOutcome
from cloudtrack_app.tracking.event_facts import EventFacts
from cloudtrack_app.tracking.history import HistoryPoint, compute_stats
from cloudtrack_app.tracking.rules import Observation
from tests.notify_fixtures import PRICE_DROP_FACTS
from tests.stubs import ModelReply, OpenAIStub

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
SOLD_CHEAPER_AT = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
D = Decimal

OVERSTATED: dict[str, Any] = {
    "price": "119.40",
    "previous_price": "199.00",
    "was_price": "199.00",
    "deal": "overstated",
    "deal_reference": "129.00",
    "deal_reference_at": SOLD_CHEAPER_AT.isoformat(),
    "deal_history_days": 30,
}
VERDICT = "The shop says −40% from €199.00; it sold for €129.00 on 12 Nov. From that price, today's is −7%."


def facts(locale: str = "en_IE", **overrides: Any) -> AlertFacts:
    raw = {"title": "Acme Coffee Grinder", **PRICE_DROP_FACTS, "target_price": None, **OVERSTATED}
    return read_facts(
        {**raw, **overrides},
        kind=AlertKind.PRICE_DROP,
        display_name="Alex",
        locale=locale,
        public_url="https://cloudtrack.example",
    )


@pytest.fixture
def model() -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        yield stub


async def write(model: OpenAIStub, alert: AlertFacts) -> ComposedMessage:
    settings = Settings(
        openai_api_key="sk-test", openai_base_url=model.url, openai_model="stub-model", ai_timeout=5.0
    )
    return await compose(alert, ai_enabled=True, tone="friendly", max_body_chars=3000, settings=settings)


# --- the stored facts ----------------------------------------------------------------------


def test_the_engine_stores_the_claim_and_its_verdict_and_reads_them_back() -> None:
    product = Product(
        id=5,
        url="https://shop.example/grinder",
        shop_domain="shop.example",
        currency="EUR",
        last_price=D("119.40"),
        last_was_price=D("199.00"),
        last_availability="in_stock",
    )
    watch = Watch(id=3, user_id=1, product_id=5, mode="price", initial_price=D("199"))
    stats = compute_stats(
        5,
        [HistoryPoint(NOW - timedelta(days=40), D("199.00"), "EUR", "in_stock")],
        currency="EUR",
        current_price=D("119.40"),
        availability="in_stock",
        last_checked_at=NOW,
        now=NOW,
    )
    deal = DealCheck(
        DealOutcome.OVERSTATED, D("119.40"), D("199.00"), "EUR", D("129.00"), SOLD_CHEAPER_AT, 30
    )
    stored = EventFacts.of_alert(
        product,
        watch,
        stats,
        kind=AlertKind.PRICE_DROP,
        reason="any_drop",
        crossing=1,
        previous=Observation(D("199.00"), "EUR", "in_stock"),
        now=NOW,
        deal=deal,
    ).to_json()
    assert {key: stored[key] for key in OVERSTATED if key != "previous_price"} == {
        key: value for key, value in OVERSTATED.items() if key != "previous_price"
    }
    assert json.loads(json.dumps(stored)) == stored
    assert EventFacts.from_json(stored).deal_check() == deal


@pytest.mark.parametrize(
    "overrides",
    [
        {"deal": "splendid"},
        {"deal": "holds"},  # holds, yet it sold for less than the claim: not a verdict CloudTrack wrote
        {"was_price": "99.00"},  # below the price: no claim
        {"deal_history_days": 45},
        {"deal_history_days": 0},
        {"deal_reference": "-1"},
        {"deal_reference_at": "12 Nov"},
        {"currency": None},
    ],
)
def test_a_claim_that_does_not_add_up_in_the_stored_facts_is_left_out(overrides: dict[str, Any]) -> None:
    alert = facts(**overrides)
    assert alert.deal is None
    assert "The shop says" not in template_message(alert, None).body
    assert all(label != "Shop's discount" for label, _ in fact_rows(alert))


# --- the template and the fact lines ----------------------------------------------------


def test_the_template_says_whether_the_claimed_discount_holds() -> None:
    body = template_message(facts(), None).body
    assert VERDICT in body.splitlines()
    assert ("Shop's discount", "−40% from €199.00, overstated: it sold for €129.00 on 12 Nov") in fact_rows(
        facts()
    )


def test_a_claim_that_holds_over_a_short_history_says_how_many_days() -> None:
    alert = facts(deal="holds", deal_reference="199.00", deal_history_days=9)
    assert template_message(alert, None).body.splitlines()[-1] == (
        "The shop says −40% from €199.00, and that holds: the lowest price before today was €199.00."
        " (CloudTrack's history covers 9 days, not the full 30.)"
    )
    assert (
        "Shop's discount",
        "−40% from €199.00, holds (lowest before today: €199.00), from 9 days of history",
    ) in (fact_rows(alert))


# --- the model's wording ------------------------------------------------------------------


async def test_the_model_words_the_verdict_with_placeholders_cloudtrack_fills(model: OpenAIStub) -> None:
    model.reply(
        ModelReply.json(
            "{product} is down to {price}",
            "The shop says {claimed_discount} from {claimed_was}, but it sold for {reference_lowest}"
            " on {reference_date}. Now it is {price}.",
        )
    )
    message = await write(model, facts())
    assert message.ai_used, message.fallback_reason
    assert message.body == (
        "The shop says −40% from €199.00, but it sold for €129.00 on 12 Nov. Now it is €119.40."
    )
    data = json.loads(
        model.requests[0]["messages"][1]["content"].split("<facts>\n", 1)[1].split("\n</facts>")[0]
    )
    assert "overstated" in data["shop_discount_claim"] and data["claim_checked_over_full_period"] is True
    assert {"claimed_was", "claimed_discount", "reference_lowest", "reference_date", "reference_days"} <= set(
        data["placeholders"]
    )
    for number in ("199", "129", "40", "Nov", "€"):
        assert number not in model.requests[0]["messages"][1]["content"]


@pytest.mark.parametrize(
    "body",
    [
        "Now {price}; the shop says forty percent off, but it sold for less.",
        "Now {price}, not the hundred and ninety nine euros the shop claims.",
        "Now {price}; it sold for {reference_lowest} on the twelfth of November.",
        "Now {price}, down 40% from {claimed_was}.",
        "Now {price}; the claimed discount of {claimed_discount} holds over thirty days.",
    ],
)
async def test_a_claim_or_a_date_the_model_states_itself_is_refused(model: OpenAIStub, body: str) -> None:
    model.reply(ModelReply.json("{product} is down to {price}", body))
    message = await write(model, facts())
    assert not message.ai_used
    assert message.fallback_reason is not None and message.fallback_reason.startswith("AI text rejected: ")
    assert VERDICT in message.body


async def test_the_history_placeholders_are_refused_when_there_is_no_history(model: OpenAIStub) -> None:
    alert = facts(deal="no_history", deal_reference=None, deal_reference_at=None, deal_history_days=None)
    assert alert.deal is not None and alert.deal.outcome == DealOutcome.NO_HISTORY
    model.reply(
        ModelReply.json("{product} now {price}", "Now {price}; it sold for {reference_lowest} before.")
    )
    message = await write(model, alert)
    assert message.fallback_reason == (
        "AI text rejected: the body uses {reference_lowest}, which this alert has no value for."
    )
    assert message.body.splitlines()[-1] == (
        "The shop says −40% from €199.00; CloudTrack has no earlier prices to check that against yet."
    )


def test_without_a_claim_the_model_hears_nothing_of_one() -> None:
    data = model_input(facts(was_price=None))
    assert "shop_discount_claim" not in data
    assert not {"claimed_was", "claimed_discount", "reference_lowest"} & set(data["placeholders"])
