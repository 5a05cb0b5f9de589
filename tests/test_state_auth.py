"""Every state handler that touches user data refuses a request without a valid session.

Handlers are found by walking every subclass of `AuthState`, so a feature state added
later is covered without editing this file; only handlers that are public by design
(log-in, sign-up, session checks) or that only set a form field are listed below.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
import reflex as rx
from sqlmodel import SQLModel, func, select

import cloudtrack_app.cloudtrack_app  # noqa: F401  (imports every page and state)
from cloudtrack_app.auth import accounts
from cloudtrack_app.auth.state import AuthState
from cloudtrack_app.db import session_scope

PUBLIC_BY_DESIGN = {
    "setvar",
    "check_session",
    "require_login",
    "logout",
    "open_public_page",
    "log_in",
    "sign_up",
    "load_dashboard",  # `/` shows the landing page to strangers; tested on its own below
    # `/verify`: the one-time token from the e-mail is the credential (tests/test_verification.py).
    "open_verify_page",
    "confirm_verification",
}
# These only change what a form shows in this browser tab; saving goes through a guarded handler.
FORM_FIELD_SETTERS = {
    "set_profile_timezone",
    "set_mode",
    "set_target",
    "set_any_drop",
    "start_over",
    "accept_offer",
    "set_edit_mode",
    "set_edit_target",
    "set_edit_any_drop",
    "set_email_alerts",
    "set_telegram_alerts",
    "set_ai_text",
    "set_ai_tone",
    "set_token_scope",
    "set_token_expiry",
    "set_drop_percent",
    "set_window",
    "set_notify_increase",
    "set_edit_drop_percent",
    "set_edit_window",
    "set_edit_increase",
    "set_confirmation_messages",
    "set_default_mode",
    "set_default_lowest_window",
    "set_default_notify_increase",
    # The price picker: choosing on the add page changes the form; the save is guarded.
    "show_picker",
    "choose_form_price",
    "use_automatic_price",
    "close_picker",
}


def _all_auth_states() -> Iterator[type[AuthState]]:
    pending = [AuthState]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


def _guarded_handlers() -> list[tuple[type[AuthState], str]]:
    return sorted(
        (
            (cls, name)
            for cls in _all_auth_states()
            for name in cls.event_handlers
            if name not in PUBLIC_BY_DESIGN | FORM_FIELD_SETTERS
        ),
        key=lambda pair: (pair[0].get_full_name(), pair[1]),
    )


def _placeholder(parameter: inspect.Parameter) -> Any:
    annotation = str(parameter.annotation)
    if "dict" in annotation:
        return {"display_name": "Mallory", "confirm_password": "x" * 10, "new_password": "y" * 10}
    if "int" in annotation:
        return 1
    if "bool" in annotation:
        return True
    return "1"


async def _call(state: AuthState, name: str) -> list[Any]:
    fn = type(state).event_handlers[name].fn
    params = list(inspect.signature(fn).parameters.values())[1:]
    result = fn(state, *(_placeholder(p) for p in params))
    if inspect.isasyncgen(result):
        return [item async for item in result]
    if inspect.iscoroutine(result):
        result = await result
    if inspect.isgenerator(result):
        return list(result)
    return [result]


def _row_counts() -> dict[str, int]:
    with session_scope() as db:
        return {
            table.name: db.exec(select(func.count()).select_from(table)).one()
            for table in SQLModel.metadata.sorted_tables
        }


def _redirects_to_login(events: list[Any]) -> bool:
    return any("/login" in str(event) for event in events if event is not None)


@pytest.fixture
def someone_else(sqlite_url: str) -> accounts.CurrentUser:
    user = accounts.create_user("owner@example.com", "owner password", "Owner")
    accounts.start_session(user.id)
    return user


def test_the_guarded_handlers_are_found() -> None:
    names = {name for _, name in _guarded_handlers()}
    assert {
        "save_profile",
        "change_password",
        "delete_account",
        "load_profile",
        "change_filter",
        "read_page",
        "save",
        "load_product",
        "check_now",
        "delete",
        "download_csv",
        "save_edit",
        "save_notifications",
        "link_telegram",
        "send_test",
        "change_email",
        "send_verification_link",
        "send_alert_link",
        "load_tokens",
        "make_token",
        "revoke",
        "open_picker",
        "try_pick_selector",
        "choose_price",
        "use_automatic",
    } <= names


@pytest.mark.parametrize(
    ("state_cls", "handler"),
    _guarded_handlers(),
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
@pytest.mark.parametrize("token", ["", "forged-or-expired-token"])
async def test_handler_refuses_without_a_valid_session(
    someone_else: accounts.CurrentUser, state_cls: type[AuthState], handler: str, token: str
) -> None:
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(state_cls.get_full_name().split(".")[1:])
    state.session_token = token
    before = _row_counts()

    events = await _call(state, handler)

    assert _redirects_to_login(events), f"{handler} did not send the request to the log-in page"
    assert _row_counts() == before, f"{handler} changed data without a session"
    assert state.email == ""


@pytest.mark.parametrize("token", ["", "forged-or-expired-token"])
async def test_the_dashboard_loads_nothing_without_a_session(
    someone_else: accounts.CurrentUser, token: str
) -> None:
    from cloudtrack_app.states.dashboard import DashboardState

    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(DashboardState.get_full_name().split(".")[1:])
    state.session_token = token
    await _call(state, "load_dashboard")
    assert state.rows == []
    assert state.counts == {}
    assert state.logged_in is False
