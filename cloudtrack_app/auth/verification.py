"""Proving an e-mail address before CloudTrack writes to it: sign-up, alert address, address change.

Every address gets a one-time link (a 256-bit random token; only its hash is stored, with
an expiry). Sign-up creates nothing that can be logged into: the account is made when the
link is followed, and the answer is the same whether or not the address already has an
account (that address gets a "someone tried" notice instead of a link). Account mails
carry fixed wording only. No Reflex here: `states/` adapt these functions.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cloudtrack_app import rate_limits
from cloudtrack_app.auth import accounts
from cloudtrack_app.auth.accounts import AccountError, CurrentUser, hash_token
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import EmailVerification, User, VerificationPurpose, utcnow
from cloudtrack_app.notify.email import (
    AccountMail,
    address_changed_mail,
    address_in_use_mail,
    recipient_verified,
    send_account_mail,
    verification_mail,
)
from cloudtrack_app.settings import Settings, get_settings

VERIFY_PATH = "/verify"
HOUR = timedelta(hours=1)
# Mails one address can be sent by other people's sign-ups and requests, per hour.
MAILS_PER_ADDRESS_PER_HOUR = 3
# Links a logged-in person may have mailed to themselves per hour.
LINKS_PER_USER_PER_HOUR = 3
TEST_ALERT_WINDOW = timedelta(minutes=10)
# The lowest-id rule for "the first account" is a race; this one-time claim is not.
_FIRST_ACCOUNT_KEY = "first-account"

NO_MAIL_SIGNUP = (
    "This server cannot send e-mail yet, so new accounts cannot confirm their address. "
    "Ask the administrator of this CloudTrack for an account."
)
NOT_VALID = "This link is not valid. Copy the whole link from the e-mail, or ask for a new one."
EXPIRED = "This link has expired. Ask for a new one: sign up again, or use the button in Settings."
USED = "This link was already used. Log in, or ask for a new link in Settings."


class VerificationError(AccountError):
    """A link that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class SignupResult:
    """`user` is set only when the account was made at once (the first account, no mail set up)."""

    message: str
    user: CurrentUser | None = None


@dataclass(frozen=True)
class PendingLink:
    """What a valid link would do, shown before the person confirms it."""

    purpose: VerificationPurpose
    email: str


@dataclass(frozen=True)
class Confirmed:
    purpose: VerificationPurpose
    email: str
    user: CurrentUser  # for a sign-up, the new account to log in
    message: str
    previous_email: str | None = None  # an address change: the old address, when it had been proved


@dataclass(frozen=True)
class AddressStatus:
    """The verification state the settings page shows."""

    email: str
    verified: bool
    pending_email: str  # "" when no address change waits for its link
    mail_configured: bool


def mail_configured(settings: Settings) -> bool:
    return settings.mail_configured


def verify_url(token: str, settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}{VERIFY_PATH}?token={token}"


def check_inbox_message(email: str, settings: Settings) -> str:
    return (
        f"Check your inbox: we sent a link to {email} to finish signing up. It works once, for "
        f"{settings.verification_link_hours} hours. Nothing after a few minutes? Look in spam, or sign up again."
    )


# --- storing and reading links ---------------------------------------------------------


def _store_link(
    db: Session,
    purpose: VerificationPurpose,
    email: str,
    settings: Settings,
    *,
    user_id: int | None = None,
    password_hash: str | None = None,
    display_name: str | None = None,
) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        EmailVerification(
            token_hash=hash_token(token),
            purpose=purpose,
            email=email,
            user_id=user_id,
            password_hash=password_hash,
            display_name=display_name,
            created_at=now,
            expires_at=now + timedelta(hours=settings.verification_link_hours),
        )
    )
    # Keep the table small: links that can no longer be used are of no use to anyone.
    db.execute(sa.delete(EmailVerification).where(EmailVerification.expires_at < now - timedelta(days=1)))  # type: ignore[arg-type]
    return verify_url(token, settings)


def _retire(db: Session, *conditions: sa.ColumnElement[bool]) -> None:
    db.execute(
        sa.update(EmailVerification)
        .where(EmailVerification.used_at.is_(None), *conditions)  # type: ignore[union-attr]
        .values(used_at=utcnow())
    )


def _unusable(db: Session, token_hash: str) -> VerificationError:
    row = db.exec(select(EmailVerification).where(EmailVerification.token_hash == token_hash)).first()
    if row is None:
        return VerificationError(NOT_VALID)
    if row.used_at is not None:
        return VerificationError(USED)
    return VerificationError(EXPIRED)


def peek(token: str) -> PendingLink:
    """What the link would confirm, without using it (mail scanners open links too)."""
    now, digest = utcnow(), hash_token(token.strip())
    with session_scope() as db:
        row = db.exec(select(EmailVerification).where(EmailVerification.token_hash == digest)).first()
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise _unusable(db, digest)
        return PendingLink(VerificationPurpose(row.purpose), row.email)


def confirm(token: str) -> Confirmed:
    """Use a link once: create the account, verify the address, or change it.

    Raises `VerificationError` when the link is unknown, used, expired, or no longer
    matches the account (an address changed since the link was sent).
    """
    now = utcnow()
    digest = hash_token(token.strip())
    try:
        with session_scope() as db:
            taken = db.execute(
                sa.update(EmailVerification)
                .where(
                    EmailVerification.token_hash == digest,  # type: ignore[arg-type]
                    EmailVerification.used_at.is_(None),  # type: ignore[union-attr]
                    EmailVerification.expires_at > now,  # type: ignore[arg-type]
                )
                .values(used_at=now)
                .returning(EmailVerification.id)
            ).first()
            if taken is None:
                raise _unusable(db, digest)
            link = db.get(EmailVerification, taken[0])
            assert link is not None
            return _apply(db, link)
    except IntegrityError as error:  # another account took the address a moment ago
        raise VerificationError(
            "This address already belongs to a CloudTrack account. Log in instead."
        ) from error


def _apply(db: Session, link: EmailVerification) -> Confirmed:
    purpose, now = VerificationPurpose(link.purpose), utcnow()
    if purpose == VerificationPurpose.SIGNUP:
        if db.exec(select(User.id).where(User.email == link.email)).first() is not None:
            raise VerificationError("This address already belongs to a CloudTrack account. Log in instead.")
        assert link.password_hash is not None and link.display_name is not None
        user = User(
            email=link.email,
            password_hash=link.password_hash,
            display_name=link.display_name,
            email_verified_at=now,
        )
        db.add(user)
        db.flush()
        _retire(db, EmailVerification.email == link.email, EmailVerification.purpose == purpose)
        return Confirmed(
            purpose, link.email, _current(user), "Your address is confirmed and your account is ready."
        )

    user = db.get(User, link.user_id) if link.user_id is not None else None
    if user is None:
        raise VerificationError(NOT_VALID)
    previous: str | None = None
    if purpose == VerificationPurpose.ACCOUNT:
        if user.email != link.email:
            raise VerificationError("This link is for an address your account no longer uses.")
        user.email_verified_at = now
    elif purpose == VerificationPurpose.ALERT:
        if (user.alert_email or "").lower() != link.email:
            raise VerificationError("This link is for an address you no longer use for alerts.")
        user.verified_alert_email = link.email
    else:
        if db.exec(select(User.id).where(User.email == link.email, User.id != user.id)).first() is not None:
            raise VerificationError("This address already belongs to another CloudTrack account.")
        if user.email_verified_at is not None:
            previous = user.email
        user.email, user.email_verified_at = link.email, now
        _retire(db, EmailVerification.user_id == user.id, EmailVerification.purpose == purpose)
    user.email_channel_error = None  # the address deserves a fresh try
    db.add(user)
    db.flush()
    words = {
        VerificationPurpose.ACCOUNT: f"{link.email} is confirmed: e-mail alerts can go there now.",
        VerificationPurpose.ALERT: f"{link.email} is confirmed: e-mail alerts can go there now.",
        VerificationPurpose.CHANGE: f"Your account's address is now {link.email}.",
    }
    return Confirmed(purpose, link.email, _current(user), words[purpose], previous)


def _current(user: User) -> CurrentUser:
    assert user.id is not None
    return CurrentUser(id=user.id, email=user.email, display_name=user.display_name, is_admin=user.is_admin)


# --- sign-up -------------------------------------------------------------------------


def _create_first_account(email: str, password: str, display_name: str) -> CurrentUser:
    with session_scope() as db:
        has_users = db.exec(select(User.id).limit(1)).first() is not None
    # Counted only while nobody has an account, so that of two sign-ups racing to be first one
    # wins; a first try that failed half-way blocks the next for a day at most.
    if has_users or rate_limits.hit(_FIRST_ACCOUNT_KEY, 1, rate_limits.LONGEST_WINDOW) is not None:
        raise AccountError(NO_MAIL_SIGNUP)
    return accounts.create_user(email, password, display_name, is_admin=True, verified=True)


def _prepare_signup(email: str, password: str, display_name: str, settings: Settings) -> AccountMail | None:
    """The mail this sign-up sends: a link, a notice to an existing account, or none (flood)."""
    password_hash = accounts.hash_password(password)  # costs the same on both paths
    if rate_limits.hit(f"mail-to:{email}", MAILS_PER_ADDRESS_PER_HOUR, HOUR) is not None:
        return None
    with session_scope() as db:
        if db.exec(select(User.id).where(User.email == email)).first() is not None:
            return address_in_use_mail(settings.public_url)
        link = _store_link(
            db,
            VerificationPurpose.SIGNUP,
            email,
            settings,
            password_hash=password_hash,
            display_name=display_name,
        )
    return verification_mail(
        VerificationPurpose.SIGNUP, link, settings.public_url, settings.verification_link_hours
    )


async def request_signup(
    email: str, password: str, display_name: str, client: str | None, *, settings: Settings | None = None
) -> SignupResult:
    """Answer a sign-up form. The answer never tells whether the address has an account."""
    settings = settings or get_settings()
    email = accounts.validate_email(email)
    display_name = accounts.validate_display_name(display_name)
    accounts.validate_password(password)
    if not mail_configured(settings):
        user = await asyncio.to_thread(_create_first_account, email, password, display_name)
        return SignupResult("Your account is ready. You are its administrator.", user)
    wait = await asyncio.to_thread(
        rate_limits.hit, f"signup-client:{client or 'unknown'}", settings.signup_limit_per_hour, HOUR
    )
    if wait is not None:
        raise AccountError(f"Too many sign-ups from your network. Try again {rate_limits.wait_words(wait)}.")
    mail = await asyncio.to_thread(_prepare_signup, email, password, display_name, settings)
    if mail is not None:
        # A failed send is logged, not shown: its error could differ between the two paths.
        await send_account_mail(mail, email, settings)
    return SignupResult(check_inbox_message(email, settings))


# --- a logged-in person's addresses ------------------------------------------------------


def _mail_allowance(user_id: int) -> None:
    wait = rate_limits.hit(f"links-for:{user_id}", LINKS_PER_USER_PER_HOUR, HOUR)
    if wait is not None:
        raise AccountError(f"You asked for several links already. Try again {rate_limits.wait_words(wait)}.")


def _prepare_address_link(
    user_id: int, purpose: VerificationPurpose, settings: Settings
) -> tuple[str, AccountMail]:
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        if purpose == VerificationPurpose.ALERT:
            address = (user.alert_email or "").strip().lower()
            if not address or address == user.email:
                raise AccountError("Alerts go to your account's address: confirm it in the Profile section.")
            verified = address == user.verified_alert_email
        else:
            address, verified = user.email, user.email_verified_at is not None
    if verified:
        raise AccountError(f"{address} is already verified.")
    _mail_allowance(user_id)
    with session_scope() as db:
        link = _store_link(db, purpose, address, settings, user_id=user_id)
    return address, verification_mail(purpose, link, settings.public_url, settings.verification_link_hours)


async def send_address_link(
    user_id: int, purpose: VerificationPurpose, *, settings: Settings | None = None
) -> str:
    """Mail a link to the account's address (ACCOUNT) or to the separate alert address (ALERT)."""
    settings = settings or get_settings()
    if not mail_configured(settings):
        raise AccountError(
            "E-mail is not set up on this server (EMAIL_BACKEND), so there is nothing to verify."
        )
    address, mail = await asyncio.to_thread(_prepare_address_link, user_id, purpose, settings)
    if not await send_account_mail(mail, address, settings):
        raise AccountError("The e-mail could not be sent just now. Try again in a few minutes.")
    return f"We sent a link to {address}. Follow it within {settings.verification_link_hours} hours."


def alert_address_verified(user_id: int) -> bool:
    """Whether the separate alert address, if the person set one, has been confirmed.

    Whether e-mail alerts may go out at all is the e-mail channel's `held_reason`.
    """
    user = _user(user_id)
    return recipient_verified(user) or not user.alert_email or user.alert_email == user.email


def _user(user_id: int) -> User:
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        return user


def _prepare_change(user_id: int, new_email: str, settings: Settings) -> AccountMail:
    _mail_allowance(user_id)
    with session_scope() as db:
        if db.exec(select(User.id).where(User.email == new_email)).first() is not None:
            return address_in_use_mail(settings.public_url)
        _retire(
            db,
            EmailVerification.user_id == user_id,
            EmailVerification.purpose == VerificationPurpose.CHANGE,
        )
        link = _store_link(db, VerificationPurpose.CHANGE, new_email, settings, user_id=user_id)
    return verification_mail(
        VerificationPurpose.CHANGE, link, settings.public_url, settings.verification_link_hours
    )


async def request_email_change(
    user: CurrentUser,
    new_email: str,
    password: str,
    client: str | None,
    *,
    settings: Settings | None = None,
) -> str:
    """Start an address change: the current password (throttled like log-in) and a link to the new address.

    The address changes only when that link is followed. Whether another account has the
    new address is not told here; that address gets a notice instead of a link.
    """
    settings = settings or get_settings()
    new_email = accounts.validate_email(new_email)
    try:
        await asyncio.to_thread(accounts.authenticate, user.email, password, client)
    except AccountError as error:
        message = str(error)
        raise AccountError(
            "The current password is not correct." if message == accounts.INVALID_LOGIN else message
        ) from error
    if new_email == user.email:
        raise AccountError("That is already your address.")
    if not mail_configured(settings):
        raise AccountError(
            "This server cannot send e-mail (EMAIL_BACKEND), so the new address cannot be confirmed. "
            "Ask the administrator."
        )
    mail = await asyncio.to_thread(_prepare_change, user.id, new_email, settings)
    await send_account_mail(mail, new_email, settings)
    return (
        f"We sent a link to {new_email}. Your address changes when you follow it "
        f"(within {settings.verification_link_hours} hours)."
    )


async def confirm_link(token: str, *, settings: Settings | None = None) -> Confirmed:
    """`confirm`, then the notice an address change owes the old address."""
    settings = settings or get_settings()
    confirmed = await asyncio.to_thread(confirm, token)
    if confirmed.previous_email is not None and mail_configured(settings):
        await send_account_mail(address_changed_mail(settings.public_url), confirmed.previous_email, settings)
    return confirmed


def address_status(user_id: int, *, settings: Settings | None = None) -> AddressStatus:
    settings = settings or get_settings()
    now = utcnow()
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        pending = db.exec(
            select(EmailVerification.email)
            .where(
                EmailVerification.user_id == user_id,
                EmailVerification.purpose == VerificationPurpose.CHANGE,
                EmailVerification.used_at.is_(None),  # type: ignore[union-attr]
                EmailVerification.expires_at > now,
            )
            .order_by(EmailVerification.id.desc())  # type: ignore[union-attr]
        ).first()
        return AddressStatus(
            email=user.email,
            verified=user.email_verified_at is not None,
            pending_email=pending or "",
            mail_configured=mail_configured(settings),
        )


def mark_verified(email: str) -> CurrentUser:
    """The operator vouches for an account's address (`users verify`)."""
    with session_scope() as db:
        user = db.exec(select(User).where(User.email == accounts.normalise_email(email))).first()
        if user is None:
            raise AccountError(f"No account with the email {accounts.normalise_email(email)}.")
        user.email_verified_at = user.email_verified_at or utcnow()
        user.email_channel_error = None
        db.add(user)
        db.flush()
        return _current(user)


# --- test alerts ---------------------------------------------------------------------


def allow_test_alert(user_id: int, *, settings: Settings | None = None) -> None:
    """Count one test alert; `AccountError` when the person sent too many just now."""
    settings = settings or get_settings()
    wait = rate_limits.hit(f"test-alert:{user_id}", settings.test_alert_limit, TEST_ALERT_WINDOW)
    if wait is not None:
        raise AccountError(
            f"You sent {settings.test_alert_limit} test alerts in the last "
            f"{int(TEST_ALERT_WINDOW.total_seconds() // 60)} minutes. Try again {rate_limits.wait_words(wait)}."
        )
