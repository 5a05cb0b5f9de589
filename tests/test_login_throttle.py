"""Password guessing is throttled per client, holds under concurrency and behind a reverse proxy,
and a stranger's guesses never lock the owner out; a password change is throttled the same way
and ends the person's other sessions."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex.app import EventNamespace
from reflex.istate.data import RouterData, SessionData
from reflex_base.config import reload_config

import cloudtrack_app.cloudtrack_app as cloudtrack  # (imports every page and state)
from cloudtrack_app.auth import accounts, throttle
from cloudtrack_app.auth.accounts import AccountError
from cloudtrack_app.settings import PROJECT_ROOT, get_settings
from cloudtrack_app.states.account import AccountFormState
from cloudtrack_app.states.profile import ProfileState

PASSWORD = "correct horse battery"
OWNER = "owner@example.com"
STRANGER_CLIENT = "203.0.113.66"
OWNER_CLIENT = "198.51.100.23"
PROXY = "10.0.0.2"
LOCKED = "Too many failed log-in attempts"


def _use_limits(monkeypatch: pytest.MonkeyPatch, **limits: int) -> None:
    for name, value in limits.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()


def _refusal(email: str, password: str, client: str | None) -> str | None:
    try:
        accounts.authenticate(email, password, client)
    except AccountError as error:
        return str(error)
    return None


class CountingHasher(PasswordHasher):
    """argon2 as the app uses it, counting how many passwords it really checked."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", counting)
    return counting


# --- who gets locked ------------------------------------------------------------------


def test_a_strangers_failures_do_not_lock_out_the_owner_on_another_client(db_url: str) -> None:
    accounts.create_user(OWNER, PASSWORD, "Owner")
    for _ in range(4):
        assert _refusal(OWNER, "a wrong guess", STRANGER_CLIENT) == accounts.INVALID_LOGIN
    assert "Try again in 15 minutes" in (_refusal(OWNER, "a wrong guess", STRANGER_CLIENT) or "")
    # The stranger is locked even when the guess is right...
    assert LOCKED in (_refusal(OWNER, PASSWORD, STRANGER_CLIENT) or "")
    # ...and the owner, on their own client, is not.
    assert accounts.authenticate(OWNER, PASSWORD, OWNER_CLIENT).email == OWNER


def test_the_owner_logs_in_while_guesses_from_many_clients_are_cut_off(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_limits(monkeypatch, LOGIN_MAX_ACCOUNT_FAILURES=6)
    owner = accounts.create_user(OWNER, PASSWORD, "Owner")
    laptop, phone = "2001:db8:5::10", OWNER_CLIENT
    accounts.start_session(owner.id, client_ip=laptop)  # signed up on the laptop
    accounts.authenticate(OWNER, PASSWORD, phone)  # logged in on the phone

    for n in range(6):
        assert _refusal(OWNER, f"guess {n}", f"192.0.2.{n + 1}") is not None
    # A seventh new client is not even checked, whatever it sends...
    assert LOCKED in (_refusal(OWNER, PASSWORD, "192.0.2.77") or "")
    # ...but the clients the owner signed up or logged in from are exempt from that count.
    assert accounts.authenticate(OWNER, PASSWORD, phone).email == OWNER
    assert accounts.authenticate(OWNER, PASSWORD, laptop).email == OWNER


def test_successful_log_ins_from_a_shared_office_address_never_lock_it(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_limits(monkeypatch, LOGIN_MAX_CLIENT_FAILURES=3)
    office = "192.0.2.10"
    for n in range(5):
        accounts.create_user(f"colleague{n}@example.com", PASSWORD, f"Colleague {n}")
        assert accounts.authenticate(f"colleague{n}@example.com", PASSWORD, office)
    assert _refusal("colleague0@example.com", "typo", office) == accounts.INVALID_LOGIN
    assert accounts.authenticate("colleague1@example.com", PASSWORD, office)


def test_an_ipv6_client_is_counted_by_its_64_block() -> None:
    assert throttle.client_key("2001:db8:1:2::1") == throttle.client_key("2001:db8:1:2:ffff::9")
    assert throttle.client_key("2001:db8:1:2::1") != throttle.client_key("2001:db8:1:3::1")
    assert throttle.client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert throttle.client_key("x|y" * 100) == ("x_y" * 100)[:64]


# --- concurrency ----------------------------------------------------------------------


def _guess_together(guesses: list[tuple[str, str | None]]) -> list[str | None]:
    start = threading.Barrier(len(guesses))

    def guess(args: tuple[str, str | None]) -> str | None:
        password, client = args
        start.wait()
        return _refusal(OWNER, password, client)

    with ThreadPoolExecutor(max_workers=len(guesses)) as pool:
        return list(pool.map(guess, guesses))


def test_forty_concurrent_guesses_from_one_client_check_at_most_the_limit(
    db_url: str, hasher: CountingHasher
) -> None:
    accounts.create_user(OWNER, PASSWORD, "Owner")
    answers = _guess_together([(f"guess {n}", STRANGER_CLIENT) for n in range(40)])
    assert hasher.verifications <= get_settings().login_max_failures
    assert all(answer is not None for answer in answers)
    assert sum(LOCKED in (answer or "") for answer in answers) >= 40 - get_settings().login_max_failures


def test_forty_concurrent_guesses_from_forty_clients_check_at_most_the_account_limit(
    db_url: str, hasher: CountingHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_limits(monkeypatch, LOGIN_MAX_ACCOUNT_FAILURES=8)
    accounts.create_user(OWNER, PASSWORD, "Owner")
    answers = _guess_together([(f"guess {n}", f"192.0.2.{n + 1}") for n in range(40)])
    assert hasher.verifications <= 8
    assert all(answer is not None for answer in answers)


# --- behind a reverse proxy -----------------------------------------------------------


@pytest.fixture
def reflex_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Loads the app's real rxconfig.py with TRUSTED_PROXY_HOPS set as an operator would."""
    monkeypatch.chdir(PROJECT_ROOT)

    def load(hops: int) -> Any:
        monkeypatch.setenv("TRUSTED_PROXY_HOPS", str(hops))
        get_settings.cache_clear()
        return reload_config()

    yield load
    monkeypatch.delenv("TRUSTED_PROXY_HOPS", raising=False)
    get_settings.cache_clear()
    reload_config()


def _login_state_for(peer: str, forwarded_for: str | None) -> Any:
    """A log-in form state whose router Reflex filled from a socket's connection, as on connect."""
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for is not None else []
    environ = {"asgi.scope": {"client": (peer, 40000), "headers": headers}}
    namespace = EventNamespace("/_event", cloudtrack.app)
    router_data = namespace._build_static_router_data("sid", environ)
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(AccountFormState.get_full_name().split(".")[1:])
    state._update_router_vars(router_data, {})
    return state


async def _log_in_through_proxy(email: str, password: str, forwarded_for: str) -> Any:
    state = _login_state_for(PROXY, forwarded_for)
    handler = AccountFormState.event_handlers["log_in"].fn
    async for _ in handler(state, {"email": email, "password": password}):
        pass
    return state


async def test_behind_one_proxy_a_spoofed_hop_does_not_change_the_client(
    sqlite_url: str, reflex_config: Any
) -> None:
    assert reflex_config(1).trusted_proxy_hops == 1
    accounts.create_user(OWNER, PASSWORD, "Owner")
    # The stranger writes a different X-Forwarded-For each time; the proxy appends the real address.
    for n in range(5):
        state = await _log_in_through_proxy(OWNER, "a wrong guess", f"10.9.9.{n}, {STRANGER_CLIENT}")
        assert state._client_address() == STRANGER_CLIENT
    assert LOCKED in state.form_error

    state = await _log_in_through_proxy(OWNER, PASSWORD, f"10.9.9.99, {STRANGER_CLIENT}")
    assert LOCKED in state.form_error and state.session_token == ""
    state = await _log_in_through_proxy(OWNER, PASSWORD, OWNER_CLIENT)
    assert state.form_error == "" and state.session_token


def test_x_forwarded_for_counts_only_through_the_configured_hops(reflex_config: Any) -> None:
    assert reflex_config(0).trusted_proxy_hops == 0
    assert _login_state_for(PROXY, f"{OWNER_CLIENT}")._client_address() == PROXY
    reflex_config(2)
    assert _login_state_for(PROXY, f"6.6.6.6, {OWNER_CLIENT}, {PROXY}")._client_address() == OWNER_CLIENT
    # Fewer entries than hops: the request did not come through the proxies; the peer counts.
    assert _login_state_for("192.0.2.200", "6.6.6.6")._client_address() == "192.0.2.200"


# --- changing the password ------------------------------------------------------------


def _profile_state(token: str, client: str) -> Any:
    root = rx.State(_reflex_internal_init=True)
    state = root.get_substate(ProfileState.get_full_name().split(".")[1:])
    state.session_token = token
    state.router = RouterData(session=SessionData(client_ip=client))
    return state


async def _change_password(state: Any, current: str, new: str) -> None:
    result = ProfileState.event_handlers["change_password"].fn(
        state, {"current_password": current, "new_password": new, "repeat_password": new}
    )
    if inspect.isawaitable(result):
        await result


async def test_guessing_the_current_password_on_the_settings_page_is_throttled(
    sqlite_url: str,
) -> None:
    user = accounts.create_user(OWNER, PASSWORD, "Owner")
    state = _profile_state(accounts.start_session(user.id), STRANGER_CLIENT)
    for n in range(4):
        await _change_password(state, f"guess {n}", "a new password")
        assert state.password_error == "The current password is not correct."
    await _change_password(state, "guess 4", "a new password")
    assert state.password_error == "Too many wrong passwords. Try again in 15 minutes."

    # The right password is not even checked now, and nothing changed.
    await _change_password(state, PASSWORD, "a new password")
    assert state.password_error.startswith("Too many wrong passwords")
    assert state.password_message == ""
    assert accounts.authenticate(OWNER, PASSWORD, OWNER_CLIENT)
    # The same count as log-in: that client cannot go on guessing on the log-in form.
    assert LOCKED in (_refusal(OWNER, PASSWORD, STRANGER_CLIENT) or "")


async def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(sqlite_url: str) -> None:
    user = accounts.create_user(OWNER, PASSWORD, "Owner")
    phone = accounts.start_session(user.id, client_ip=OWNER_CLIENT)
    laptop = accounts.start_session(user.id, client_ip=OWNER_CLIENT)
    someone_else = accounts.create_user("other@example.com", PASSWORD, "Other")
    others_session = accounts.start_session(someone_else.id)

    state = _profile_state(laptop, OWNER_CLIENT)
    await _change_password(state, PASSWORD, "a brand new password")

    assert state.password_message == "Password changed." and state.password_error == ""
    assert accounts.user_for_token(phone) is None
    assert accounts.user_for_token(laptop) == user
    assert accounts.user_for_token(others_session) == someone_else
    assert accounts.authenticate(OWNER, "a brand new password", OWNER_CLIENT) == user
    assert _refusal(OWNER, PASSWORD, OWNER_CLIENT) == accounts.INVALID_LOGIN


def test_the_current_password_check_is_public_and_throttled(sqlite_url: str) -> None:
    user = accounts.create_user(OWNER, PASSWORD, "Owner")
    accounts.verify_current_password(user.id, PASSWORD, OWNER_CLIENT)
    for _ in range(4):
        with pytest.raises(AccountError, match="not correct"):
            accounts.verify_current_password(user.id, "wrong", STRANGER_CLIENT)
    with pytest.raises(AccountError, match="Too many wrong passwords"):
        accounts.verify_current_password(user.id, "wrong", STRANGER_CLIENT)
    with pytest.raises(AccountError, match="Too many wrong passwords"):
        accounts.verify_current_password(user.id, PASSWORD, STRANGER_CLIENT)
