"""The Reflex layer: handlers save what the pages send, read what the route gives them, and
the pages use only what Reflex keeps supporting after 0.10.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from reflex.istate.data import PageData
from reflex_base.utils import console

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages, and with them the route arguments)
from cloudtrack_app.auth import accounts
from cloudtrack_app.notify.preferences import load_preferences
from cloudtrack_app.pages.add_product import add_product_page
from cloudtrack_app.pages.auth import login_page, signup_page
from cloudtrack_app.pages.dashboard import index_page
from cloudtrack_app.pages.product import product_page
from cloudtrack_app.pages.settings import settings_page
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.states.product import ProductState
from cloudtrack_app.states.profile import ProfileState
from tests.engine_fixtures import seed_products
from tests.state_fixtures import run_handler, state_for


@pytest.fixture
def ada(sqlite_url: str) -> tuple[accounts.CurrentUser, str]:
    user = accounts.create_user("ada@example.com", "a long enough password", "Ada")
    return user, accounts.start_session(user.id)


async def test_the_alert_switches_are_saved_as_the_page_sends_them(
    ada: tuple[accounts.CurrentUser, str],
) -> None:
    user, token = ada
    state = state_for(NotificationsState, token)
    await run_handler(state, "load_notifications")
    assert state.email_alerts and state.ai_text

    await run_handler(state, "set_email_alerts", False)
    await run_handler(state, "set_ai_text", False)
    # A switch that is off is left out of the form data; the handler reads the state var.
    await run_handler(state, "save_notifications", {"alert_email": ""})
    saved = load_preferences(user.id)
    assert (saved.email_alerts, saved.ai_text) == (False, False)
    assert state.notify_message == "Alert settings saved."

    await run_handler(state, "set_email_alerts", True)
    await run_handler(state, "set_ai_text", True)
    await run_handler(state, "save_notifications", {"alert_email": "", "email-alerts": "on", "ai-text": "on"})
    saved = load_preferences(user.id)
    assert (saved.email_alerts, saved.ai_text) == (True, True)


async def test_the_profile_is_saved_with_a_tidied_name(ada: tuple[accounts.CurrentUser, str]) -> None:
    user, token = ada
    state = state_for(ProfileState, token)
    await run_handler(state, "load_profile")
    assert (state.profile_name, state.profile_timezone) == ("Ada", "UTC")

    await run_handler(state, "set_profile_timezone", "Europe/Vienna")
    await run_handler(state, "save_profile", {"display_name": "  Ada   Lovelace "})
    assert accounts.profile_of(user.id) == accounts.Profile("Ada Lovelace", "Europe/Vienna")
    assert (state.profile_name, state.display_name, state.profile_message) == (
        "Ada Lovelace",
        "Ada Lovelace",
        "Saved.",
    )

    await run_handler(state, "set_profile_timezone", "Mars/Olympus")
    await run_handler(state, "save_profile", {"display_name": "Ada"})
    assert state.profile_error == "Choose a timezone from the list."
    assert accounts.profile_of(user.id).timezone == "Europe/Vienna"


async def test_the_product_page_takes_the_product_from_the_route_argument(
    ada: tuple[accounts.CurrentUser, str],
) -> None:
    user, token = ada
    [product_id] = seed_products(["https://shop.example/p/1"], user.id, price=Decimal("10.00"))
    state = state_for(ProductState, token)
    state.rx_router_page = PageData(path="/products/[product_id]", params={"product_id": str(product_id)})

    await run_handler(state, "load_product")
    assert state.not_found is False
    assert state.detail is not None and state.detail.product_id == product_id

    state.rx_router_page = PageData(path="/products/[product_id]", params={"product_id": str(product_id + 1)})
    await run_handler(state, "load_product")
    assert state.not_found is True
    assert state.detail is None


def test_no_form_submits_a_control_by_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reflex 0.11 leaves controls without a `name` out of the form data (0.10.1 warns)."""
    warnings: list[str] = []
    monkeypatch.setattr(console, "deprecate", lambda **kwargs: warnings.append(kwargs["feature_name"]))
    for page in (settings_page, add_product_page, product_page, index_page, login_page, signup_page):
        page()
    assert warnings == []


def test_reflex_first_start_message_does_not_send_people_to_uv(caplog: pytest.LogCaptureFixture) -> None:
    import rxconfig  # noqa: F401  (installs the filter, as the reflex command does on start)

    logger = logging.getLogger("reflex.reflex")
    with caplog.at_level(logging.INFO, logger="reflex"):
        logger.log(25, "Initialized cloudtrack_app. Run `uv run reflex run` to start the app.")
    assert caplog.messages == ["Initialized cloudtrack_app."]
