"""Settings page "New watches": the start-message switch and default rules, through the real state handlers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages and their states)
from cloudtrack_app.auth import accounts
from cloudtrack_app.models import WatchMode
from cloudtrack_app.notify.preferences import load_watch_defaults, save_watch_defaults
from cloudtrack_app.states.add_product import AddProductState
from cloudtrack_app.states.watch_defaults import WatchDefaultsState
from cloudtrack_app.tracking.new_watch_rules import (
    NewWatchDefaults,
    PriceRule,
    load_defaults,
    rule_for_new_watch,
)
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


# --- the defaults where no form shows them: command line, imports, API ------------------

PLAIN = NewWatchDefaults(WatchMode.PRICE, PriceRule())
TEN_PERCENT_BOTH = NewWatchDefaults(
    WatchMode.BOTH, PriceRule(drop_percent=Decimal("10"), notify_increase=True)
)
STOCK = NewWatchDefaults(WatchMode.STOCK, PriceRule())
NEW_LOW = NewWatchDefaults(WatchMode.PRICE, PriceRule(lowest_window_days=90))
TARGET = PriceRule(target_price=Decimal("80"))


@dataclass(frozen=True)
class NewWatchExample:
    why: str
    defaults: NewWatchDefaults
    mode: str | None
    rule: PriceRule | None
    expected: tuple[str, PriceRule]
    unattended: bool = False  # an import line: nobody to ask for a missing rule


NEW_WATCH_EXAMPLES = [
    NewWatchExample("nothing asked: the defaults", TEN_PERCENT_BOTH, None, None, ("both", TEN_PERCENT_BOTH.rule)),
    NewWatchExample("an empty rule is nothing asked", TEN_PERCENT_BOTH, None, PriceRule(), ("both", TEN_PERCENT_BOTH.rule)),
    NewWatchExample("a mode alone keeps the default rule", TEN_PERCENT_BOTH, "price", None, ("price", TEN_PERCENT_BOTH.rule)),
    NewWatchExample("a target alone keeps the default mode", TEN_PERCENT_BOTH, None, TARGET, ("both", TARGET)),
    NewWatchExample("a stock watch takes no default rule", TEN_PERCENT_BOTH, "stock", None, ("stock", PriceRule())),
    NewWatchExample("a stock default stays stock", STOCK, None, None, ("stock", PriceRule())),
    NewWatchExample("a stock default with a target asked is both", STOCK, None, TARGET, ("both", TARGET)),
    NewWatchExample("stock asked with a target is left to refuse", STOCK, "stock", TARGET, ("stock", TARGET)),
    NewWatchExample("plain defaults choose no price", PLAIN, None, None, ("price", PriceRule())),
    NewWatchExample("an import line without one: any drop", PLAIN, None, None, ("price", PriceRule(any_drop=True)), True),
    NewWatchExample("an import line keeps a default new low", NEW_LOW, None, None, ("price", NEW_LOW.rule), True),
    NewWatchExample(
        "increases alone keep the default choice of prices",
        NEW_LOW,
        None,
        PriceRule(notify_increase=True),
        ("price", PriceRule(lowest_window_days=90, notify_increase=True)),
    ),
]  # fmt: skip


@pytest.mark.parametrize("example", NEW_WATCH_EXAMPLES, ids=lambda example: example.why)
def test_a_new_watch_takes_what_was_asked_and_the_defaults_for_the_rest(example: NewWatchExample) -> None:
    assert (
        rule_for_new_watch(
            example.defaults, example.mode, example.rule, any_drop_unless_chosen=example.unattended
        )
        == example.expected
    )


def test_the_defaults_read_from_the_settings_page_are_the_ones_new_watches_get(
    ada: tuple[accounts.CurrentUser, str],
) -> None:
    user, _ = ada
    assert load_defaults(user.id) == PLAIN
    save_watch_defaults(
        user.id,
        confirmation_messages=True,
        default_mode="both",
        default_drop_percent="10",
        default_lowest_window="",
        default_notify_increase=True,
    )
    assert load_defaults(user.id) == TEN_PERCENT_BOTH
