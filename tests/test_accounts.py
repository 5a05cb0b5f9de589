"""Accounts: sign-up rules, log-in throttling and server-side sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cloudtrack_app.auth import accounts
from cloudtrack_app.auth.accounts import AccountError
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AuthSession, User, utcnow

PASSWORD = "correct horse battery"


def test_email_is_normalised_and_unique(db_url: str) -> None:
    user = accounts.create_user("  Alice@Example.COM ", PASSWORD, "Alice")
    assert user.email == "alice@example.com"
    with pytest.raises(AccountError, match="already exists"):
        accounts.create_user("ALICE@example.com", PASSWORD, "Other Alice")


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 8"), ("x" * 1025, "too long"), ("é" * 513, "too long")],
)
def test_password_rules_refuse_without_truncating(sqlite_url: str, password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.create_user("bob@example.com", password, "Bob")


def test_long_password_is_used_whole(sqlite_url: str) -> None:
    long_password = "p" * 1024
    accounts.create_user("carol@example.com", long_password, "Carol")
    assert accounts.authenticate("carol@example.com", long_password).email == "carol@example.com"
    with pytest.raises(AccountError):
        accounts.authenticate("carol@example.com", "p" * 1023)


def test_password_is_stored_as_argon2id(sqlite_url: str) -> None:
    accounts.create_user("dan@example.com", PASSWORD, "Dan")
    with session_scope() as db:
        stored = db.exec(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_unknown_email_and_wrong_password_get_the_same_message(db_url: str) -> None:
    accounts.create_user("erin@example.com", PASSWORD, "Erin")
    with pytest.raises(AccountError) as unknown:
        accounts.authenticate("nobody@example.com", PASSWORD)
    with pytest.raises(AccountError) as wrong:
        accounts.authenticate("erin@example.com", "not the password")
    assert str(unknown.value) == str(wrong.value) == accounts.INVALID_LOGIN


def test_five_failures_lock_that_client_out_of_the_account_for_fifteen_minutes(db_url: str) -> None:
    accounts.create_user("fay@example.com", PASSWORD, "Fay")
    for _ in range(4):
        with pytest.raises(AccountError, match="Wrong email or password"):
            accounts.authenticate("fay@example.com", "wrong password", client="203.0.113.5")
    with pytest.raises(AccountError, match="Try again in 15 minutes"):
        accounts.authenticate("fay@example.com", "wrong password", client="203.0.113.5")
    # Even the right password is refused from that client while it is locked.
    with pytest.raises(AccountError, match="Too many failed log-in attempts"):
        accounts.authenticate("fay@example.com", PASSWORD, client="203.0.113.5")


def test_one_client_guessing_many_accounts_is_locked(sqlite_url: str) -> None:
    for n in range(19):
        with pytest.raises(AccountError, match="Wrong email"):
            accounts.authenticate(f"victim{n}@example.com", "guess", client="203.0.113.9")
    with pytest.raises(AccountError, match="Too many"):
        accounts.authenticate("victim99@example.com", "guess", client="203.0.113.9")
    # Another client is not affected.
    with pytest.raises(AccountError, match="Wrong email"):
        accounts.authenticate("victim99@example.com", "guess", client="198.51.100.1")


def test_a_locked_account_does_not_lock_others_on_the_same_address(sqlite_url: str) -> None:
    accounts.create_user("typo@example.com", PASSWORD, "Typo")
    accounts.create_user("colleague@example.com", PASSWORD, "Colleague")
    for _ in range(5):
        with pytest.raises(AccountError):
            accounts.authenticate("typo@example.com", "wrong password", client="192.0.2.10")
    with pytest.raises(AccountError, match="Too many"):
        accounts.authenticate("typo@example.com", PASSWORD, client="192.0.2.10")
    assert (
        accounts.authenticate("colleague@example.com", PASSWORD, client="192.0.2.10").email
        == "colleague@example.com"
    )


def test_session_token_is_stored_only_as_a_hash(db_url: str) -> None:
    user = accounts.create_user("gus@example.com", PASSWORD, "Gus")
    token = accounts.start_session(user.id)
    with session_scope() as db:
        rows = db.exec(select(AuthSession)).all()
    assert len(rows) == 1
    assert rows[0].token_hash != token
    assert token not in rows[0].token_hash
    assert rows[0].token_hash == accounts.hash_token(token)
    assert accounts.user_for_token(token) == user


def test_expired_session_is_refused_and_removed(db_url: str) -> None:
    user = accounts.create_user("hal@example.com", PASSWORD, "Hal")
    token = accounts.start_session(user.id)
    with session_scope() as db:
        row = db.exec(select(AuthSession)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.add(row)
    assert accounts.user_for_token(token) is None
    with session_scope() as db:
        assert db.exec(select(AuthSession)).all() == []


def test_logout_ends_the_session_on_the_server(sqlite_url: str) -> None:
    user = accounts.create_user("ida@example.com", PASSWORD, "Ida")
    token = accounts.start_session(user.id)
    accounts.end_session(token)
    assert accounts.user_for_token(token) is None
    assert accounts.user_for_token("forged-token") is None
    assert accounts.user_for_token(None) is None


def test_disabling_a_user_ends_their_sessions_and_refuses_login(sqlite_url: str) -> None:
    user = accounts.create_user("jo@example.com", PASSWORD, "Jo")
    token = accounts.start_session(user.id)
    accounts.set_disabled("JO@example.com", True)
    assert accounts.user_for_token(token) is None
    with pytest.raises(AccountError, match="disabled"):
        accounts.authenticate("jo@example.com", PASSWORD)


def test_deleting_an_account_removes_its_data(db_url: str) -> None:
    user = accounts.create_user("kim@example.com", PASSWORD, "Kim")
    accounts.start_session(user.id)
    accounts.delete_account(user.id)
    with session_scope() as db:
        assert db.exec(select(User)).all() == []
        assert db.exec(select(AuthSession)).all() == []
