"""The settings page's API tokens: make one (its secret shown once), list them, revoke one.

The secret never enters the state (which Redis may keep): the handler that makes a token
hands it to the page with `rx.set_value`, into a read-only field, and forgets it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import reflex as rx

from cloudtrack_app.api import tokens
from cloudtrack_app.auth.state import AuthState, login_required
from cloudtrack_app.views.viewer import local_time, viewer

NEW_TOKEN_FIELD = "new-api-token"
EXPIRY_DAYS = {"never": None, "30": 30, "90": 90, "365": 365}


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    scope: str
    created: str
    last_used: str
    expires: str


class ApiTokensState(AuthState):
    api_tokens: list[TokenRow] = []
    token_scope: str = "read-write"
    token_expiry: str = "never"
    token_error: str = ""
    token_message: str = ""
    new_token_name: str = ""  # the token whose secret the page shows now ("" for none)

    async def _load(self, user_id: int) -> None:
        def rows() -> list[TokenRow]:
            who = viewer(user_id)
            return [
                TokenRow(
                    id=info.id,
                    name=info.name,
                    scope="read only" if info.read_only else "read and write",
                    created=local_time(info.created_at, who),
                    last_used=local_time(info.last_used_at, who) or "never",
                    expires=local_time(info.expires_at, who) or "never",
                )
                for info in tokens.list_tokens(user_id)
            ]

        self.api_tokens = await asyncio.to_thread(rows)

    @rx.event
    async def load_tokens(self) -> rx.event.EventSpec | None:
        self.token_error = self.token_message = self.new_token_name = ""
        self.token_scope, self.token_expiry = "read-write", "never"
        self.api_tokens = []
        user = await self._user()
        if user is None:
            return self._login_redirect()
        await self._load(user.id)
        return None

    @rx.event
    def set_token_scope(self, value: str) -> None:
        self.token_scope = value if value in ("read-write", "read") else "read-write"

    @rx.event
    def set_token_expiry(self, value: str) -> None:
        self.token_expiry = value if value in EXPIRY_DAYS else "never"

    @rx.event
    @login_required
    async def make_token(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        days = EXPIRY_DAYS.get(self.token_expiry)
        try:
            info, secret = await asyncio.to_thread(
                lambda: tokens.create_token(
                    user.id,
                    str(form.get("token_name", "")),
                    read_only=self.token_scope == "read",
                    expires_in=timedelta(days=days) if days else None,
                )
            )
        except tokens.TokenError as error:
            self.token_error, self.token_message, self.new_token_name = str(error), "", ""
            return None
        self.token_error, self.new_token_name = "", info.name
        self.token_message = f"Made the token “{info.name}”. Copy it now: it is not shown again."
        await self._load(user.id)
        return rx.set_value(NEW_TOKEN_FIELD, secret)

    @rx.event
    @login_required
    async def revoke(self, token_id: int) -> rx.event.EventSpec | None:
        user = await self._require_user()
        try:
            name = await asyncio.to_thread(tokens.revoke_token, user.id, int(token_id))
        except (tokens.TokenError, TypeError, ValueError):
            self.token_error, self.token_message = "That token does not exist (or was already revoked).", ""
        else:
            self.token_error, self.token_message = "", f"Revoked the token “{name}”."
        self.new_token_name = ""
        await self._load(user.id)
        return rx.set_value(NEW_TOKEN_FIELD, "")
