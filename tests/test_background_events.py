"""The long handlers run as background events, so a tab is never frozen while a page is read
or an alert sent, and a person asking for too many page reads is told to slow down."""

from __future__ import annotations

import inspect
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import pytest
import reflex as rx
from reflex.istate.data import PageData

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages, and with them the route arguments)
from cloudtrack_app.auth import accounts
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.states.product import ProductState
from cloudtrack_app.tracking.read_limits import page_read_limiter
from tests.engine_fixtures import seed_products
from tests.state_fixtures import state_for

SLOW_DOWN = "CloudTrack is already reading 2 pages for you. Wait until they are done."


async def _run_to_the_end(state: Any, name: str, *args: Any) -> list[Any]:
    run = type(state).event_handlers[name].fn(state, *args)
    if inspect.isasyncgen(run):
        return [event async for event in run]
    return [await run]


@pytest.fixture
def ada(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[accounts.CurrentUser, str]:
    monkeypatch.setenv("USER_READS_AT_ONCE", "2")
    page_read_limiter.cache_clear()
    user = accounts.create_user("ada@example.com", "a long enough password", "Ada")
    yield user, accounts.start_session(user.id)
    page_read_limiter.cache_clear()


@pytest.mark.parametrize(
    ("state", "handler"),
    [
        (AddProductState, "read_page"),
        (AddProductState, "save"),
        (ProductState, "check_now"),
        (NotificationsState, "send_test"),
    ],
)
def test_handlers_that_wait_on_shops_or_providers_leave_the_tab_free(
    state: type[rx.State], handler: str
) -> None:
    assert state.event_handlers[handler].is_background


async def test_a_third_page_at_once_is_refused_with_a_slow_down_message(
    ada: tuple[accounts.CurrentUser, str],
) -> None:
    user, token = ada
    state = state_for(AddProductState, token)
    with ExitStack() as reading:
        for _ in range(2):
            reading.enter_context(page_read_limiter().slot(user.id))
        await _run_to_the_end(state, "read_page", {"url": "https://shop.example/p/1"})
    assert (state.error, state.reading, state.found) == (SLOW_DOWN, False, None)


async def test_check_now_beyond_the_limit_is_refused_with_a_slow_down_message(
    ada: tuple[accounts.CurrentUser, str],
) -> None:
    user, token = ada
    [product_id] = seed_products(["https://shop.example/p/1"], user.id, price=Decimal("10.00"))
    state = state_for(ProductState, token)
    state.rx_router_page = PageData(path="/products/[product_id]", params={"product_id": str(product_id)})
    with ExitStack() as reading:
        for _ in range(2):
            reading.enter_context(page_read_limiter().slot(user.id))
        await _run_to_the_end(state, "check_now")
    assert (state.check_message, state.checking) == (SLOW_DOWN, False)
    assert state.detail is not None and state.detail.product_id == product_id
