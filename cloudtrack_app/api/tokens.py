"""Personal access tokens: created, listed, revoked, and checked on each API request.

A token is shown once, when it is made; only its SHA-256 hash is stored (it is 256 random
bits, so a fast hash is enough at rest, as for session tokens). Revoking deletes the row.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import select

from cloudtrack_app.auth.accounts import hash_token
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import ApiToken, User, utcnow

TOKEN_PREFIX = "ct_"
NAME_MAX_CHARS = 100
MAX_TOKENS_PER_USER = 50
# The last-used time is written at most this often per token, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A request about tokens that cannot be done; the message can be shown as it is."""


class TokenRefused(Exception):
    """A request whose token does not let it in: `code` for programs, `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    read_only: bool
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @property
    def scope(self) -> str:
        return "read" if self.read_only else "read-write"


@dataclass(frozen=True)
class TokenHolder:
    """Who a valid token speaks for, and what it may do."""

    user_id: int
    token_id: int
    read_only: bool


def _info(token: ApiToken) -> TokenInfo:
    assert token.id is not None
    return TokenInfo(
        token.id, token.name, token.read_only, token.created_at, token.last_used_at, token.expires_at
    )


def validate_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise TokenError("Give the token a name, like “home assistant”.")
    if len(name) > NAME_MAX_CHARS:
        raise TokenError(f"Use at most {NAME_MAX_CHARS} characters for the token's name.")
    return name


def create_token(
    user_id: int, name: str, *, read_only: bool = False, expires_in: timedelta | None = None
) -> tuple[TokenInfo, str]:
    """A new token for the user: its details and the secret, which is never available again."""
    name = validate_name(name)
    if expires_in is not None and expires_in <= timedelta(0):
        raise TokenError("A token must stay valid for some time: choose a later expiry.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope() as session:
        if session.get(User, user_id) is None:
            raise TokenError("That account does not exist.")
        count = len(session.exec(select(ApiToken.id).where(ApiToken.user_id == user_id)).all())
        if count >= MAX_TOKENS_PER_USER:
            raise TokenError(f"You have {count} tokens, the most there can be. Revoke one you no longer use.")
        token = ApiToken(
            user_id=user_id,
            name=name,
            token_hash=hash_token(secret),
            read_only=read_only,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        session.add(token)
        session.flush()
        return _info(token), secret


def list_tokens(user_id: int) -> list[TokenInfo]:
    """The user's tokens, newest first (never their secrets: those are not kept)."""
    with session_scope() as session:
        tokens = session.exec(
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())  # type: ignore[union-attr]
        ).all()
        return [_info(token) for token in tokens]


def revoke_token(user_id: int, token_id: int) -> str:
    """Delete one of the user's tokens; its name. Another user's token is as a missing one."""
    with session_scope() as session:
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != user_id:
            raise TokenError("That token does not exist (or was already revoked).")
        name = token.name
        session.delete(token)
        return name


def authenticate(secret: str, *, now: datetime | None = None) -> TokenHolder:
    """The holder of a token sent with a request; raises `TokenRefused`."""
    now = now or utcnow()
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise TokenRefused("invalid_token", "That is not a CloudTrack API token.")
    with session_scope() as session:
        row = session.exec(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)  # type: ignore[arg-type]
            .where(ApiToken.token_hash == hash_token(secret))
        ).first()
        if row is None:
            raise TokenRefused("invalid_token", "This token is not valid: it was revoked, or never existed.")
        token, user = row
        if token.expires_at is not None and token.expires_at <= now:
            raise TokenRefused(
                "token_expired", "This token has expired. Make a new one on the settings page."
            )
        if user.disabled:
            raise TokenRefused("account_disabled", "This account is disabled.")
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            token.last_used_at = now
            session.add(token)
        assert token.id is not None
        return TokenHolder(user.id or 0, token.id, token.read_only)
