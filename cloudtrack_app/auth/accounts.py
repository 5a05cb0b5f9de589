"""Accounts, passwords and server-side sessions (no Reflex here); `throttle` counts the guesses.

Hashing is synchronous and slow by design: async callers run these functions in a
thread (`asyncio.to_thread`) so one log-in never stalls the event loop.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import available_timezones

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select

from cloudtrack_app.auth import throttle
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import AuthSession, User, utcnow
from cloudtrack_app.settings import get_settings

PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_BYTES = 1024
DISPLAY_NAME_MAX = 120
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVALID_LOGIN = "Wrong email or password."
WRONG_CURRENT_PASSWORD = "The current password is not correct."

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
# Verified against when the account does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("cloudtrack-timing-equaliser")


class AccountError(ValueError):
    """A refusal whose message can be shown to the person as it is."""


@dataclass(frozen=True)
class Profile:
    """What a person may change about themselves on the settings page."""

    display_name: str
    timezone: str


@dataclass(frozen=True)
class CurrentUser:
    """What the rest of the app may know about the logged-in person."""

    id: int
    email: str
    display_name: str
    is_admin: bool


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    email = normalise_email(email)
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        raise AccountError("Enter a valid email address.")
    return email


def validate_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_CHARS:
        raise AccountError(f"Use at least {PASSWORD_MIN_CHARS} characters for the password.")
    if len(password.encode("utf-8")) > PASSWORD_MAX_BYTES:
        raise AccountError(f"The password is too long (at most {PASSWORD_MAX_BYTES} bytes).")


def validate_display_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise AccountError("Enter a display name.")
    if len(name) > DISPLAY_NAME_MAX:
        raise AccountError(f"Keep the display name under {DISPLAY_NAME_MAX} characters.")
    return name


def hash_password(password: str) -> str:
    validate_password(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    """Session tokens are 256-bit random values, so a fast hash is enough at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def _as_current(user: User) -> CurrentUser:
    assert user.id is not None
    return CurrentUser(id=user.id, email=user.email, display_name=user.display_name, is_admin=user.is_admin)


def create_user(
    email: str, password: str, display_name: str, *, is_admin: bool = False, verified: bool = True
) -> CurrentUser:
    """An account made by someone who vouches for the address (the operator, the CLI).

    Sign-up from the web never comes here directly: it goes through `verification`,
    which creates the account only when the owner of the address follows the link.
    """
    email = validate_email(email)
    display_name = validate_display_name(display_name)
    password_hash = hash_password(password)
    with session_scope() as db:
        if db.exec(select(User.id).where(User.email == email)).first() is not None:
            raise AccountError("An account with this email already exists. Log in instead.")
        user = User(
            email=email,
            password_hash=password_hash,
            display_name=display_name,
            is_admin=is_admin,
            email_verified_at=utcnow() if verified else None,
        )
        db.add(user)
        db.flush()
        return _as_current(user)


# --- passwords through the throttle ---------------------------------------------------


def _lock_message(until: datetime, *, what: str = "failed log-in attempts") -> str:
    minutes = throttle.minutes_left(until)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many {what}. Try again in {minutes} {unit}."


def authenticate(email: str, password: str, client: str | None = None) -> CurrentUser:
    """Check a log-in from `client` (the address Reflex resolved); raise `AccountError` with the
    message to show on refusal."""
    normalised = normalise_email(email)
    try:
        attempt = throttle.reserve(normalised, client)
    except throttle.ThrottledError as refused:
        raise AccountError(_lock_message(refused.until)) from None

    with session_scope() as db:
        user = db.exec(select(User).where(User.email == normalised)).first()
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is not None and ok and not user.disabled:
        attempt.succeeded()
        return _as_current(user)

    if attempt.locks_until is not None:
        raise AccountError(_lock_message(attempt.locks_until))
    if user is not None and ok and user.disabled:
        raise AccountError("This account is disabled. Ask the administrator of this CloudTrack.")
    raise AccountError(INVALID_LOGIN)


def verify_current_password(user_id: int, password: str, client: str | None) -> None:
    """Check a logged-in person's current password before a sensitive change, through the same
    throttle as log-in; raise `AccountError` with the message to show when it is wrong or throttled.
    """
    with session_scope() as db:
        user = db.get(User, user_id)
    if user is None:
        raise AccountError(WRONG_CURRENT_PASSWORD)
    try:
        attempt = throttle.reserve(user.email, client)
    except throttle.ThrottledError as refused:
        raise AccountError(_lock_message(refused.until, what="wrong passwords")) from None
    if verify_password(user.password_hash, password):
        attempt.succeeded()
        return
    if attempt.locks_until is not None:
        raise AccountError(_lock_message(attempt.locks_until, what="wrong passwords"))
    raise AccountError(WRONG_CURRENT_PASSWORD)


# --- sessions ------------------------------------------------------------------------


def start_session(user_id: int, *, client_ip: str | None = None, user_agent: str | None = None) -> str:
    """Create a session and return its token; only the token's hash is stored."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    ttl = timedelta(days=get_settings().session_ttl_days)
    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        email = user.email
    # A client that signed up or logged in is one the owner uses: strangers' guesses never lock it.
    throttle.remember_client(email, client_ip)
    with session_scope() as db:
        db.add(
            AuthSession(
                user_id=user_id,
                token_hash=hash_token(token),
                created_at=now,
                expires_at=now + ttl,
                last_seen_at=now,
                client_ip=(client_ip or None) and client_ip[:64],
                user_agent=(user_agent or None) and user_agent[:300],
            )
        )
    return token


def user_for_token(token: str | None) -> CurrentUser | None:
    """The user a session token belongs to, or None when missing, unknown or expired."""
    if not token:
        return None
    now = utcnow()
    with session_scope() as db:
        row = db.exec(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.token_hash == hash_token(token))
        ).first()
        if row is None:
            return None
        auth_session, user = row
        if auth_session.expires_at <= now or user.disabled:
            db.delete(auth_session)
            return None
        # Touch at most once a minute: this runs on every page load.
        if now - auth_session.last_seen_at > timedelta(minutes=1):
            auth_session.last_seen_at = now
            db.add(auth_session)
        return _as_current(user)


def end_session(token: str | None) -> None:
    if not token:
        return
    with session_scope() as db:
        row = db.exec(select(AuthSession).where(AuthSession.token_hash == hash_token(token))).first()
        if row is not None:
            db.delete(row)


def end_all_sessions(user_id: int) -> None:
    with session_scope() as db:
        for row in db.exec(select(AuthSession).where(AuthSession.user_id == user_id)).all():
            db.delete(row)


def list_users() -> list[User]:
    with session_scope() as db:
        return list(db.exec(select(User).order_by(User.id)).all())


def set_disabled(email: str, disabled: bool) -> CurrentUser:
    with session_scope() as db:
        user = db.exec(select(User).where(User.email == normalise_email(email))).first()
        if user is None:
            raise AccountError(f"No account with the email {normalise_email(email)}.")
        user.disabled = disabled
        db.add(user)
        current = _as_current(user)
    if disabled:
        end_all_sessions(current.id)
    return current


@functools.cache
def timezones() -> tuple[str, ...]:
    """The timezones a person can choose (read once: scanning the zone database takes 0.1 s)."""
    return tuple(sorted(tz for tz in available_timezones() if "/" in tz or tz == "UTC"))


def profile_of(user_id: int) -> Profile:
    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        return Profile(user.display_name, user.timezone)


def update_profile(user_id: int, display_name: str, timezone: str) -> Profile:
    """Save a new display name and timezone; answers the profile as stored (name tidied)."""
    display_name = validate_display_name(display_name)
    if timezone not in timezones():
        raise AccountError("Choose a timezone from the list.")
    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        user.display_name, user.timezone = display_name, timezone
        db.add(user)
    return Profile(display_name, timezone)


def adopt_browser_timezone(user_id: int, timezone: str) -> str | None:
    """Store the zone the browser reports for someone who has not chosen one yet.

    Answers the zone stored, or None when nothing changed: a zone was chosen already, or the
    browser's is not one of the choices.
    """
    if timezone not in timezones():
        return None
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None or user.timezone:
            return None
        user.timezone = timezone
        db.add(user)
    return timezone


def change_password(
    user_id: int, old_password: str, new_password: str, *, client: str | None, keep_token: str | None
) -> None:
    """Set a new password after checking the current one, and end every session of the user but
    the one whose token is `keep_token` (the person's own)."""
    validate_password(new_password)
    verify_current_password(user_id, old_password, client)
    new_hash = hash_password(new_password)
    others = sa.delete(AuthSession).where(AuthSession.user_id == user_id)
    if keep_token:
        others = others.where(AuthSession.token_hash != hash_token(keep_token))
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise AccountError(WRONG_CURRENT_PASSWORD)
        user.password_hash = new_hash
        db.add(user)
        db.exec(others)


def delete_account(user_id: int) -> None:
    """Remove the user and everything that is theirs (watches, alerts, sessions)."""
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is not None:
            db.delete(user)
