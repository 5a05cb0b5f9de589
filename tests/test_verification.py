"""No mail to an address nobody verified (issue 11, parts 2 and 4b).

Sign-up by link, links that work once and expire, alerts held for unverified addresses,
sign-up that never tells whether an address has an account, limits on sign-ups and test
alerts, and an address change that needs the password and the new address's link.
Resend is a local stub behind the real SDK.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from reflex.istate.data import ReflexURL, URLData
from sqlmodel import select

import cloudtrack_app.cloudtrack_app  # noqa: F401  (registers the pages and states)
from cloudtrack_app import rate_limits
from cloudtrack_app.auth import accounts, verification
from cloudtrack_app.auth.accounts import AccountError
from cloudtrack_app.auth.verification import VerificationError
from cloudtrack_app.cli import main
from cloudtrack_app.db import make_engine, session_scope
from cloudtrack_app.models import DeliveryStatus, EmailVerification, User, VerificationPurpose
from cloudtrack_app.notify.dispatch import dispatch_pending, send_test_alert
from cloudtrack_app.notify.preferences import save_preferences
from cloudtrack_app.settings import PROJECT_ROOT, get_settings
from cloudtrack_app.states.account import AccountFormState, VerifyState
from cloudtrack_app.states.notifications import NotificationsState
from cloudtrack_app.views.channels import ChannelState, channel_lines
from tests.conftest import PG_AVAILABLE, PG_URL
from tests.notify_fixtures import (
    PUBLIC_URL,
    Stubs,
    configure,
    load_event,
    load_user,
    make_event,
    make_watch,
)
from tests.notify_fixtures import stubs_fixture as stubs_fixture
from tests.state_fixtures import state_for
from tests.stubs import RESEND_TEST_KEY, ResendStub

PASSWORD = "correct horse battery"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/verify\?token=([A-Za-z0-9_\-]+)")


@pytest.fixture
def mailbox(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResendStub]:
    """Resend as a local stub, on a SQLite database (for tests whose subject is not the database)."""
    with ResendStub() as resend:
        configure(
            monkeypatch,
            RESEND_API_KEY=RESEND_TEST_KEY,
            RESEND_API_URL=resend.url,
            EMAIL_FROM="CloudTrack <alerts@cloudtrack.example>",
            PUBLIC_URL=PUBLIC_URL,
            SECRET_KEY="test-secret-key-for-verification",
            NOTIFY_SEND_TIMEOUT="5",
        )
        yield resend
    get_settings.cache_clear()


def mails_to(resend: ResendStub, address: str) -> list[dict[str, Any]]:
    return [m for m in resend.emails if m["to"] == [address]]


def alerts_to(user_id: int, address: str) -> None:
    """E-mail alerts on, to `address` (the settings page's "Send alerts to")."""
    save_preferences(
        user_id,
        email_alerts=True,
        alert_email=address,
        telegram_alerts=False,
        ai_text=False,
        ai_tone="friendly",
    )


def link_in(mail: dict[str, Any]) -> str:
    found = LINK.search(mail["text"])
    assert found, mail["text"]
    assert found.group(0) in mail["html"]
    return found.group(1)


def unverified_user(email: str = "alex@example.com", name: str = "Alex", **prefs: Any) -> User:
    """An account from before verification existed (the migration leaves it unverified)."""
    current = accounts.create_user(email, PASSWORD, name, verified=False)
    with session_scope() as db:
        user = db.get(User, current.id)
        assert user is not None
        for key, value in prefs.items():
            setattr(user, key, value)
        db.flush()
        db.expunge(user)
        return user


async def _run(state: Any, name: str, *args: Any) -> list[Any]:
    result = type(state).event_handlers[name].fn(state, *args)
    if inspect.isasyncgen(result):
        return [item async for item in result]
    return [await result if inspect.isawaitable(result) else result]


# --- alerts wait for a verified address ------------------------------------------------


async def test_an_alert_to_an_unverified_address_is_held_and_says_why_then_sent_after_verification(
    stubs: Stubs,
) -> None:
    user = unverified_user()
    product, watch = make_watch(user.id)
    held_event = make_event(user.id, product, watch)

    await dispatch_pending()

    assert stubs.resend.emails == []
    _, deliveries = load_event(held_event)
    assert [(d.channel, d.status) for d in deliveries] == [("email", DeliveryStatus.SKIPPED)]
    assert "alex@example.com is not verified" in (deliveries[0].error or "")
    assert "not verified" in (load_user(user.id).email_channel_error or "")  # shown in settings

    await verification.send_address_link(user.id, VerificationPurpose.ACCOUNT)
    (link_mail,) = stubs.resend.emails
    confirmed = await verification.confirm_link(link_in(link_mail))
    assert confirmed.email == "alex@example.com"
    assert load_user(user.id).email_channel_error is None

    sent_event = make_event(user.id, product, watch)
    await dispatch_pending()
    _, deliveries = load_event(sent_event)
    assert [(d.channel, d.status) for d in deliveries] == [("email", DeliveryStatus.SENT)]
    assert [m["to"] for m in stubs.resend.emails[1:]] == [["alex@example.com"]]


async def test_a_test_alert_to_an_unverified_address_is_not_sent(stubs: Stubs) -> None:
    user = unverified_user()

    outcomes = await send_test_alert(user.id)

    assert stubs.resend.emails == []
    assert [(o.channel, o.status) for o in outcomes] == [("email", "skipped")]
    assert "not verified" in outcomes[0].detail


async def test_a_separate_alert_address_gets_alerts_only_while_it_is_the_verified_one(
    mailbox: ResendStub,
) -> None:
    user = accounts.create_user("owner@example.com", PASSWORD, "Owner")  # verified: made by the operator
    product, watch = make_watch(user.id)
    alerts_to(user.id, "deals@example.org")
    assert not verification.alert_address_verified(user.id)
    make_event(user.id, product, watch)
    await dispatch_pending()
    assert mailbox.emails == []

    await verification.send_address_link(user.id, VerificationPurpose.ALERT)
    (link_mail,) = mails_to(mailbox, "deals@example.org")
    await verification.confirm_link(link_in(link_mail))
    make_event(user.id, product, watch)
    await dispatch_pending()
    assert len(mails_to(mailbox, "deals@example.org")) == 2  # the link, then the alert

    # A new address needs its own link: the old verification does not carry over.
    alerts_to(user.id, "other@example.net")
    held = make_event(user.id, product, watch)
    await dispatch_pending()
    assert mails_to(mailbox, "other@example.net") == []
    _, deliveries = load_event(held)
    assert deliveries[0].status == DeliveryStatus.SKIPPED


async def test_settings_say_needs_verification_exactly_while_alerts_are_held(mailbox: ResendStub) -> None:
    user = accounts.create_user("owner@example.com", PASSWORD, "Owner")
    assert channel_lines(user.id)["email"].state == ChannelState.ON

    alerts_to(user.id, "deals@example.org")
    line = channel_lines(user.id)["email"]
    outcomes = await send_test_alert(user.id)
    assert line.state == ChannelState.NEEDS_VERIFICATION
    assert "deals@example.org" in line.detail
    assert [(o.channel, o.status) for o in outcomes] == [("email", "skipped")]

    await verification.send_address_link(user.id, VerificationPurpose.ALERT)
    await verification.confirm_link(link_in(mails_to(mailbox, "deals@example.org")[0]))
    assert channel_lines(user.id)["email"].state == ChannelState.ON


async def test_a_link_cannot_verify_an_address_changed_since_it_was_sent(mailbox: ResendStub) -> None:
    user = accounts.create_user("owner@example.com", PASSWORD, "Owner")
    alerts_to(user.id, "first@example.org")
    await verification.send_address_link(user.id, VerificationPurpose.ALERT)
    (link_mail,) = mails_to(mailbox, "first@example.org")
    alerts_to(user.id, "second@example.org")

    with pytest.raises(VerificationError, match="no longer use"):
        await verification.confirm_link(link_in(link_mail))
    assert not verification.alert_address_verified(user.id)


# --- links ---------------------------------------------------------------------------


async def test_a_tampered_expired_or_used_link_is_refused_with_a_clear_message(mailbox: ResendStub) -> None:
    user = unverified_user()
    await verification.send_address_link(user.id, VerificationPurpose.ACCOUNT)
    token = link_in(mailbox.emails[0])

    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(VerificationError, match="not valid"):
        verification.peek(tampered)
    with pytest.raises(VerificationError, match="not valid"):
        await verification.confirm_link(tampered)

    with session_scope() as db:
        link = db.exec(select(EmailVerification)).one()
        link.expires_at = link.created_at - timedelta(seconds=1)
    with pytest.raises(VerificationError, match="expired"):
        verification.peek(token)
    with pytest.raises(VerificationError, match="expired"):
        await verification.confirm_link(token)
    assert load_user(user.id).email_verified_at is None

    await verification.send_address_link(user.id, VerificationPurpose.ACCOUNT)
    fresh = link_in(mailbox.emails[-1])
    assert verification.peek(fresh).email == "alex@example.com"  # looking does not use it
    await verification.confirm_link(fresh)
    with pytest.raises(VerificationError, match="already used"):
        await verification.confirm_link(fresh)
    # Only the token's hash is stored.
    with session_scope() as db:
        stored = {row.token_hash for row in db.exec(select(EmailVerification))}
    assert fresh not in stored and token not in stored


async def test_links_mailed_to_oneself_are_limited(mailbox: ResendStub) -> None:
    user = unverified_user()
    for _ in range(verification.LINKS_PER_USER_PER_HOUR):
        await verification.send_address_link(user.id, VerificationPurpose.ACCOUNT)
    with pytest.raises(AccountError, match="several links already"):
        await verification.send_address_link(user.id, VerificationPurpose.ACCOUNT)
    assert len(mailbox.emails) == verification.LINKS_PER_USER_PER_HOUR


# --- sign-up -------------------------------------------------------------------------


async def test_sign_up_creates_the_account_only_when_the_link_is_followed(mailbox: ResendStub) -> None:
    result = await verification.request_signup("New@Example.com", PASSWORD, "Newton", "203.0.113.1")

    assert result.user is None and "Check your inbox" in result.message
    with session_scope() as db:
        assert db.exec(select(User)).all() == []
    with pytest.raises(AccountError, match="Wrong email or password"):
        accounts.authenticate("new@example.com", PASSWORD)

    (mail,) = mails_to(mailbox, "new@example.com")
    confirmed = await verification.confirm_link(link_in(mail))

    assert confirmed.purpose == VerificationPurpose.SIGNUP
    assert confirmed.user.email == "new@example.com" and confirmed.user.display_name == "Newton"
    assert accounts.authenticate("new@example.com", PASSWORD).id == confirmed.user.id
    assert load_user(confirmed.user.id).email_verified_at is not None
    assert not load_user(confirmed.user.id).is_admin


async def test_the_sign_up_form_says_check_your_inbox_and_the_link_page_logs_the_person_in(
    mailbox: ResendStub,
) -> None:
    form_state = state_for(AccountFormState, "")
    await _run(
        form_state, "sign_up", {"email": "pia@example.com", "password": PASSWORD, "display_name": "Pia"}
    )
    assert "Check your inbox" in form_state.form_message and form_state.form_error == ""
    assert form_state.session_token == ""  # not logged in: that would tell whether the address was new

    page = state_for(VerifyState, "")
    page.rx_router_url = URLData.from_url(
        ReflexURL(f"http://localhost:3000/verify?token={link_in(mailbox.emails[0])}")
    )
    await _run(page, "open_verify_page")
    assert page.verify_ready and "pia@example.com" in page.verify_text
    with session_scope() as db:
        assert db.exec(select(User)).all() == []  # opening the page (as a mail scanner would) does nothing

    events = await _run(page, "confirm_verification")

    assert any("redirect" in str(event) for event in events if event is not None)
    signed_in = accounts.user_for_token(page.session_token)
    assert signed_in is not None and signed_in.email == "pia@example.com"

    page.rx_router_url = URLData.from_url(ReflexURL("http://localhost:3000/verify?token=forged"))
    await _run(page, "open_verify_page")
    assert not page.verify_ready and "not valid" in page.verify_text


async def test_the_verification_mail_carries_no_display_name(mailbox: ResendStub) -> None:
    lure = "URGENT your bank account is locked call 555 0100 at evil.example"
    await verification.request_signup("victim@example.com", PASSWORD, lure, "203.0.113.1")

    (mail,) = mailbox.emails
    for part in (mail["subject"], mail["text"], mail["html"]):
        assert "URGENT" not in part and "evil" not in part and "555" not in part
    assert link_in(mail)


async def test_sign_up_with_a_registered_address_answers_the_same_and_sends_a_notice(
    mailbox: ResendStub,
) -> None:
    accounts.create_user("taken@example.com", PASSWORD, "Owner")

    taken = await verification.request_signup(
        "taken@example.com", "another password", "Mallory", "203.0.113.1"
    )
    fresh = await verification.request_signup(
        "fresh@example.com", "another password", "Mallory", "203.0.113.1"
    )

    assert taken.user is None and fresh.user is None
    assert taken.message.replace("taken@", "X@") == fresh.message.replace("fresh@", "X@")
    (notice,) = mails_to(mailbox, "taken@example.com")
    assert "Someone tried" in notice["subject"]
    assert not LINK.search(notice["text"]) and "Mallory" not in notice["text"] + notice["html"]
    # Nothing was pending for the taken address, and its owner's password still works.
    with session_scope() as db:
        assert [v.email for v in db.exec(select(EmailVerification))] == ["fresh@example.com"]
    assert accounts.authenticate("taken@example.com", PASSWORD).display_name == "Owner"


async def test_sign_ups_are_limited_per_client(mailbox: ResendStub) -> None:
    limit = get_settings().signup_limit_per_hour
    for n in range(limit):
        await verification.request_signup(f"person{n}@example.com", PASSWORD, "P", "203.0.113.7")
    with pytest.raises(AccountError, match="Too many sign-ups from your network"):
        await verification.request_signup("one-more@example.com", PASSWORD, "P", "203.0.113.7")
    assert mails_to(mailbox, "one-more@example.com") == []
    # Another client is not affected.
    await verification.request_signup("one-more@example.com", PASSWORD, "P", "198.51.100.2")
    assert len(mails_to(mailbox, "one-more@example.com")) == 1


def test_a_limit_holds_when_requests_arrive_together(db_url: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda _: rate_limits.hit("signup-client:203.0.113.9", 5, timedelta(hours=1)), range(24))
        )
    assert sum(answer is None for answer in answers) == 5


async def test_repeated_sign_ups_cannot_flood_one_address(mailbox: ResendStub) -> None:
    for n in range(6):
        await verification.request_signup("target@example.com", PASSWORD, "P", f"203.0.113.{n}")
    assert len(mails_to(mailbox, "target@example.com")) == verification.MAILS_PER_ADDRESS_PER_HOUR


async def test_without_mail_only_the_first_account_signs_up_and_becomes_admin(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, RESEND_API_KEY="")

    first = await verification.request_signup("first@example.com", PASSWORD, "First", "203.0.113.1")
    assert first.user is not None and first.user.is_admin

    with pytest.raises(AccountError, match="Ask the administrator"):
        await verification.request_signup("second@example.com", PASSWORD, "Second", "203.0.113.1")
    assert [u.email for u in accounts.list_users()] == ["first@example.com"]


def test_accounts_made_from_the_command_line_count_as_verified(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["users", "create", "ops@example.com", "--password", "a good password"])
    assert result.exit_code == 0, result.output
    (user,) = accounts.list_users()
    assert user.email_verified_at is not None

    legacy = unverified_user("legacy@example.com")
    assert "unverified" in CliRunner().invoke(main, ["users", "list"]).output
    result = CliRunner().invoke(main, ["users", "verify", "legacy@example.com"])
    assert result.exit_code == 0, result.output
    assert load_user(legacy.id).email_verified_at is not None


# --- test alerts ---------------------------------------------------------------------


async def test_test_alerts_are_limited_per_person(stubs: Stubs) -> None:
    user = accounts.create_user("tester@example.com", PASSWORD, "Tess")
    other = accounts.create_user("other@example.com", PASSWORD, "Otto")
    state = state_for(NotificationsState, accounts.start_session(user.id))
    limit = get_settings().test_alert_limit

    for _ in range(limit):
        await _run(state, "send_test")
        assert state.test_results[0].startswith("E-mail: sent")
    await _run(state, "send_test")

    assert "Try again in 10 minutes" in state.test_results[0]
    assert len(stubs.resend.emails) == limit
    other_state = state_for(NotificationsState, accounts.start_session(other.id))
    await _run(other_state, "send_test")
    assert other_state.test_results[0].startswith("E-mail: sent")


# --- changing the address --------------------------------------------------------------


async def test_changing_the_address_needs_the_password_and_the_new_addresses_link(
    mailbox: ResendStub,
) -> None:
    current = accounts.create_user("old@example.com", PASSWORD, "Olga")

    with pytest.raises(AccountError, match="current password is not correct"):
        await verification.request_email_change(current, "new@example.com", "wrong password", None)
    assert mailbox.emails == []

    message = await verification.request_email_change(current, "New@Example.com", PASSWORD, None)
    assert "new@example.com" in message
    assert load_user(current.id).email == "old@example.com"  # not yet
    assert verification.address_status(current.id).pending_email == "new@example.com"
    (link_mail,) = mails_to(mailbox, "new@example.com")

    await verification.confirm_link(link_in(link_mail))

    changed = load_user(current.id)
    assert changed.email == "new@example.com" and changed.email_verified_at is not None
    assert accounts.authenticate("new@example.com", PASSWORD).id == current.id
    (notice,) = mails_to(mailbox, "old@example.com")
    assert "changed" in notice["subject"] and "new@example.com" not in notice["text"] + notice["html"]
    assert verification.address_status(current.id).pending_email == ""


async def test_the_password_check_of_an_address_change_is_throttled_like_log_in(mailbox: ResendStub) -> None:
    current = accounts.create_user("olga@example.com", PASSWORD, "Olga")
    for _ in range(get_settings().login_max_failures - 1):
        with pytest.raises(AccountError, match="not correct"):
            await verification.request_email_change(current, "new@example.com", "guess", "203.0.113.3")
    with pytest.raises(AccountError, match="Too many failed log-in attempts"):
        await verification.request_email_change(current, "new@example.com", "guess", "203.0.113.3")
    with pytest.raises(AccountError, match="Too many failed log-in attempts"):
        await verification.request_email_change(current, "new@example.com", PASSWORD, "203.0.113.3")
    assert mailbox.emails == []


async def test_an_address_change_to_a_taken_address_answers_the_same_and_changes_nothing(
    mailbox: ResendStub,
) -> None:
    accounts.create_user("taken@example.com", PASSWORD, "Owner")
    current = accounts.create_user("olga@example.com", PASSWORD, "Olga")

    taken = await verification.request_email_change(current, "taken@example.com", PASSWORD, None)
    fresh = await verification.request_email_change(current, "fresh@example.com", PASSWORD, None)

    assert taken.replace("taken@", "X@") == fresh.replace("fresh@", "X@")
    (notice,) = mails_to(mailbox, "taken@example.com")
    assert not LINK.search(notice["text"])
    assert load_user(current.id).email == "olga@example.com"


# --- the migration ---------------------------------------------------------------------


def _alembic(url: str, revision: str, *, down: bool = False) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    engine = make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable")
    name = f"cloudtrack_verify_migration_{tmp_path.name[-12:].replace('-', '_')}".lower()
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_migration_keeps_existing_addresses_unverified_except_administrators(empty_database: str) -> None:
    _alembic(empty_database, "3f1c2a9d8b70")
    engine = make_engine(empty_database)
    with engine.begin() as conn:
        for email, admin in (("admin@example.com", True), ("member@example.com", False)):
            conn.execute(
                sa.text(
                    "INSERT INTO users (email, password_hash, display_name, timezone, locale, is_admin, "
                    "disabled, created_at, email_alerts, telegram_alerts, ai_text, ai_tone) VALUES "
                    "(:email, 'x', 'Name', 'UTC', 'en', :admin, false, CURRENT_TIMESTAMP, true, true, true, 'friendly')"
                ),
                {"email": email, "admin": admin},
            )
    engine.dispose()

    _alembic(empty_database, "head")

    engine = make_engine(empty_database)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT email, email_verified_at FROM users")).all())
    engine.dispose()
    assert rows["admin@example.com"] is not None
    assert rows["member@example.com"] is None

    _alembic(empty_database, "3f1c2a9d8b70", down=True)  # and back
    _alembic(empty_database, "head")
