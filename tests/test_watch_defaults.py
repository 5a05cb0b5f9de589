"""Settings page "New watches": the start-message switch and default rules, through the real state handlers."""

from __future__ import annotations

import pytest

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages and their states)
from cloudtrack_app.auth import accounts
from cloudtrack_app.notify.preferences import load_watch_defaults
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.states.watch_defaults import WatchDefaultsState
from tests.state_fixtures import run_handler, state_for


@pytest.fixture
def ada(sqlite_url: str) -> tuple[accounts.CurrentUser, str]:
    user = accounts.create_user("ada@example.com", "a long enough password", "Ada")
    return user, accounts.start_session(user.id)


async def test_start_messages_are_on_by_default_and_the_switch_is_saved(
    ada: tuple[accounts.CurrentUser, str],
) -> None:
    user, token = ada
    state = state_for(WatchDefaultsState, token)
    await run_handler(state, "load_defaults")
    assert state.confirmation_messages is True and state.default_lowest_window == "none"

    await run_handler(state, "set_confirmation_messages", False)
    await run_handler(state, "save_defaults", {"default_drop_percent": ""})
    assert load_watch_defaults(user.id).confirmation_messages is False
    assert state.defaults_message == "New-watch settings saved."


async def test_default_rules_are_saved_and_fill_the_add_product_form(
    ada: tuple[accounts.CurrentUser, str],
) -> None:
    user, token = ada
    state = state_for(WatchDefaultsState, token)
    await run_handler(state, "load_defaults")
    await run_handler(state, "set_default_mode", "both")
    await run_handler(state, "set_default_notify_increase", True)
    await run_handler(state, "save_defaults", {"default_drop_percent": "15 %"})
    assert state.defaults_error == ""
    saved = load_watch_defaults(user.id)
    assert (saved.default_mode, saved.default_drop_percent, saved.default_notify_increase) == (
        "both",
        "15",
        True,
    )

    form = state_for(AddProductState, token)
    await run_handler(form, "open_page")
    assert (form.mode, form.drop_percent, form.window, form.notify_increase) == ("both", "15", "none", True)


@pytest.mark.parametrize(
    ("mode", "percent", "window", "words"),
    [
        ("price", "10", "90", "Choose one price rule"),
        ("price", "lots", "none", "number of percent"),
        ("stock", "10", "none", "A stock watch has no price rules"),
    ],
)
async def test_defaults_a_watch_could_not_have_are_refused_and_nothing_is_lost(
    ada: tuple[accounts.CurrentUser, str], mode: str, percent: str, window: str, words: str
) -> None:
    user, token = ada
    state = state_for(WatchDefaultsState, token)
    await run_handler(state, "load_defaults")
    await run_handler(state, "set_default_mode", mode)
    await run_handler(state, "set_default_lowest_window", window)
    await run_handler(state, "save_defaults", {"default_drop_percent": percent})
    assert words in state.defaults_error
    assert load_watch_defaults(user.id).default_mode == "price"
