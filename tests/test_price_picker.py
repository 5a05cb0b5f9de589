"""The price picker: when CloudTrack is unsure which price a page means, the person picks it,
on the add-product preview or later on the product page, or types a CSS selector; only the
watch's owner sees or changes its pick."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from reflex.istate.data import PageData
from sqlmodel import select

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages, and with them the route arguments)
from benchmarks.shop import LocalShop
from cloudtrack_app.auth import accounts
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import Watch
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.states.product import ProductState
from cloudtrack_app.tracking.extract import Candidate
from cloudtrack_app.tracking.read_limits import page_read_limiter
from cloudtrack_app.views.picker import NOTHING_FOUND, UNSURE_PROMPT, is_uncertain
from tests.engine_fixtures import local_shop_settings
from tests.picker_pages import kettle_page, lamp_page
from tests.state_fixtures import run_handler, state_for


@pytest.fixture
def shop(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalShop]:
    local_shop_settings(monkeypatch)
    page_read_limiter.cache_clear()
    with LocalShop() as running:
        running.add_page("/lamp", lamp_page())
        running.add_page("/kettle", kettle_page())
        yield running
    page_read_limiter.cache_clear()


def sign_up(email: str) -> tuple[int, str]:
    user = accounts.create_user(email, "a long enough password", email.split("@")[0])
    return user.id, accounts.start_session(user.id)


async def read(shop: LocalShop, token: str, path: str) -> Any:
    state = state_for(AddProductState, token, url="http://localhost:3000/add")
    await run_handler(state, "open_page")
    await run_handler(state, "read_page", {"url": shop.url(path)})
    assert state.error == ""
    return state


def amounts(state: Any) -> list[str]:
    return [choice.price_text for choice in state.pick_choices]


def watch_of(user_id: int) -> Watch:
    with session_scope() as session:
        watches = session.exec(select(Watch).where(Watch.user_id == user_id)).all()
        assert len(watches) == 1
        session.expunge(watches[0])
        return watches[0]


def product_page(token: str, product_id: int) -> Any:
    state = state_for(ProductState, token)
    state.rx_router_page = PageData(path="/products/[product_id]", params={"product_id": str(product_id)})
    return state


async def add_lamp_picking(shop: LocalShop, token: str, key: str | None) -> Any:
    state = await read(shop, token, "/lamp")
    if key is not None:
        await run_handler(state, "choose_form_price", key)
    await run_handler(state, "save")
    return state


def candidate(price: str, score: float) -> Candidate:
    return Candidate(Decimal(price), "EUR", "visible", "#p", "", score)


@pytest.mark.parametrize(
    ("confidence", "candidates", "asked"),
    [
        (0.9, [candidate("10", 0.9)], False),  # one sure price
        (0.5, [candidate("10", 0.5)], True),  # one weak price
        (0.9, [candidate("10", 0.9), candidate("10", 0.9)], False),  # two places, one amount
        (0.9, [candidate("10", 0.9), candidate("12", 0.85)], True),  # a close second amount
        (0.9, [candidate("10", 0.9), candidate("12", 0.6)], False),  # a distant second
        (0.0, [], False),  # nothing to pick from
    ],
)
def test_the_person_is_asked_when_the_reading_is_weak_or_a_close_second_disagrees(
    confidence: float, candidates: list[Candidate], asked: bool
) -> None:
    assert is_uncertain(confidence, candidates) is asked


async def test_an_unsure_reading_asks_which_price_and_shows_the_candidates_as_text(shop: LocalShop) -> None:
    _, token = sign_up("ada@example.com")
    state = await read(shop, token, "/lamp")
    assert state.found.uncertain and state.picking
    assert UNSURE_PROMPT == "We are not sure which price is the right one — pick it:"
    assert amounts(state) == ["€39.00", "€35.00", "€49.00"]
    member = state.pick_choices[1]
    # The shop's "<b>today</b>" is words on the page, kept as text for a text-only element.
    assert member.snippet == "Price: €39.00 Club members pay €35.00 <b>today</b> Add to cart"
    assert (member.source, state.pick_key) == ("shown on the page", "")


async def test_a_sure_reading_keeps_the_picker_closed_until_asked(shop: LocalShop) -> None:
    _, token = sign_up("ada@example.com")
    state = await read(shop, token, "/kettle")
    assert (state.found.uncertain, state.picking) == (False, False)
    await run_handler(state, "show_picker")
    assert state.picking and amounts(state) == ["€24.50"]


async def test_the_chosen_candidate_becomes_the_watchs_pick_on_save(shop: LocalShop) -> None:
    user_id, token = sign_up("ada@example.com")
    state = await read(shop, token, "/lamp")
    assert state.target == "35.10"  # 10 % below the automatic reading, €39.00
    await run_handler(state, "choose_form_price", "1")
    assert (state.pick_key, state.target) == ("1", "31.50")  # the suggestion follows the pick
    await run_handler(state, "save")
    watch = watch_of(user_id)
    assert (watch.price_selector, watch.picked_price, watch.picked_currency) == (
        "#member-price",
        Decimal("35.00"),
        "EUR",
    )
    assert watch.pick_missing_since is None


async def test_without_a_choice_the_watch_follows_the_automatic_reading(shop: LocalShop) -> None:
    user_id, token = sign_up("ada@example.com")
    state = await read(shop, token, "/lamp")
    await run_handler(state, "choose_form_price", "1")
    await run_handler(state, "use_automatic_price")
    assert (state.pick_key, state.picking, state.target) == ("", False, "35.10")
    await run_handler(state, "save")
    assert watch_of(user_id).price_selector is None


async def test_a_key_the_page_did_not_offer_is_ignored(shop: LocalShop) -> None:
    _, token = sign_up("ada@example.com")
    state = await read(shop, token, "/lamp")
    for key in ("7", "typed", "#member-price", ""):
        await run_handler(state, "choose_form_price", key)
    assert state.pick_key == ""


@pytest.mark.parametrize(
    ("typed", "message", "chosen"),
    [
        ("", "Type a CSS selector first, like #price or .price-now.", ""),
        ("div[", "That is not a CSS selector this app can read", ""),
        ("#no-such-element", NOTHING_FOUND, ""),
        ("p > #member-price", "That selector finds €35.00 on the page.", "typed"),
    ],
)
async def test_the_selector_field_says_what_a_selector_finds_on_the_page(
    shop: LocalShop, typed: str, message: str, chosen: str
) -> None:
    user_id, token = sign_up("ada@example.com")
    state = await read(shop, token, "/lamp")
    await run_handler(state, "try_pick_selector", {"selector": typed})
    assert state.pick_message.startswith(message)
    assert (state.pick_key, state.trying_selector) == (chosen, False)
    if chosen:
        assert state.pick_choices[0].price_text == "€35.00"
        await run_handler(state, "save")
        assert watch_of(user_id).price_selector == "p > #member-price"


async def test_the_product_page_rereads_the_page_and_follows_the_chosen_price(shop: LocalShop) -> None:
    user_id, token = sign_up("ada@example.com")
    await add_lamp_picking(shop, token, None)
    page = product_page(token, watch_of(user_id).product_id)
    await run_handler(page, "load_product")
    assert (page.detail.picked, page.detail.price_text) == (False, "€39.00")

    shop.set_html("/lamp", lamp_page(member="33.00"))
    await run_handler(page, "open_picker")
    assert page.picking and amounts(page) == ["€39.00", "€33.00", "€49.00"]
    await run_handler(page, "choose_price", "1")
    assert (page.picking, page.detail.picked, page.detail.pick_text) == (False, True, "€33.00")
    assert page.detail.price_text == "€33.00"
    assert watch_of(user_id).price_selector == "#member-price"

    await run_handler(page, "use_automatic")
    assert (page.detail.picked, page.detail.price_text) == (False, "€39.00")
    assert watch_of(user_id).price_selector is None


async def test_the_product_page_says_when_the_picked_price_is_gone(shop: LocalShop) -> None:
    user_id, token = sign_up("ada@example.com")
    await add_lamp_picking(shop, token, "1")
    page = product_page(token, watch_of(user_id).product_id)
    await run_handler(page, "load_product")
    assert (page.detail.picked, page.detail.pick_missing) == (True, False)

    # The club price drops while the shown price stays: the check reports the watch's own price.
    shop.set_html("/lamp", lamp_page(member="32.00"))
    await run_handler(page, "check_now")
    assert page.check_message == "€35.00 → €32.00."
    assert (page.detail.price_text, page.detail.pick_text) == ("€32.00", "€32.00")

    shop.set_html("/lamp", lamp_page(member=None))
    await run_handler(page, "check_now")
    assert (page.detail.picked, page.detail.pick_missing) == (True, True)
    assert page.detail.price_text == "€39.00"  # the automatic reading stands in
    assert page.check_message.startswith("The page layout changed: the price you picked is gone")

    shop.set_html("/lamp", lamp_page(member="32.00"))
    await run_handler(page, "check_now")
    assert (page.detail.pick_missing, page.detail.price_text) == (False, "€32.00")
    assert page.check_message.startswith("The price you picked is back on the page.")


async def test_only_the_owner_sees_or_changes_a_watchs_pick(shop: LocalShop) -> None:
    ada_id, ada_token = sign_up("ada@example.com")
    bob_id, bob_token = sign_up("bob@example.com")
    await add_lamp_picking(shop, ada_token, "1")
    product_id = watch_of(ada_id).product_id

    for handler, args in [
        ("open_picker", ()),
        ("try_pick_selector", ({"selector": ".price-now"},)),
        ("choose_price", ("0",)),
        ("use_automatic", ()),
    ]:
        bob_page = product_page(bob_token, product_id)
        bob_page.picking = True  # as if a picker were open in Bob's tab
        await run_handler(bob_page, handler, *args)
        assert bob_page.not_found, handler
        assert (bob_page.detail, bob_page.pick_choices, bob_page.pick_message) == (None, [], "")
    assert watch_of(ada_id).price_selector == "#member-price"
    assert shop.request_count("/lamp") == 1  # Bob made CloudTrack read nothing

    # Bob's own watch of the same product follows the automatic reading.
    await add_lamp_picking(shop, bob_token, None)
    bob_page = product_page(bob_token, product_id)
    await run_handler(bob_page, "load_product")
    assert (bob_page.detail.picked, bob_page.detail.price_text) == (False, "€39.00")
    assert watch_of(bob_id).price_selector is None
