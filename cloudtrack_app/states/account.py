"""Log-in and sign-up forms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import reflex as rx

from cloudtrack_app.auth import accounts
from cloudtrack_app.auth.state import AccountError, AuthState, safe_next
from cloudtrack_app.settings import get_settings


class AccountFormState(AuthState):
    form_error: str = ""
    busy: bool = False

    def _next_path(self) -> str:
        query = parse_qs(urlsplit(str(self.router.url)).query)
        return safe_next((query.get("next") or [""])[0])

    @rx.event
    async def open_public_page(self) -> rx.event.EventSpec | None:
        """on_load of log-in and sign-up: someone already logged in goes to the dashboard."""
        self.form_error = ""
        self.busy = False
        if await self._user() is not None:
            return rx.redirect(self._next_path())
        return None

    @rx.event
    async def log_in(self, form: dict[str, str]) -> AsyncIterator[rx.event.EventSpec | None]:
        if self.busy:
            return
        self.busy, self.form_error = True, ""
        yield
        try:
            user = await asyncio.to_thread(
                accounts.authenticate,
                str(form.get("email", "")),
                str(form.get("password", "")),
                self._client_address(),
            )
        except AccountError as error:
            self.form_error, self.busy = str(error), False
            return
        await self._begin_session(user)
        self.busy = False
        yield rx.redirect(self._next_path())

    @rx.event
    async def sign_up(self, form: dict[str, str]) -> AsyncIterator[rx.event.EventSpec | None]:
        if self.busy:
            return
        if not get_settings().signup_enabled:
            self.form_error = "Sign-up is closed on this server. Ask its administrator for an account."
            return
        self.busy, self.form_error = True, ""
        yield
        try:
            user = await asyncio.to_thread(
                accounts.create_user,
                str(form.get("email", "")),
                str(form.get("password", "")),
                str(form.get("display_name", "")),
            )
        except AccountError as error:
            self.form_error, self.busy = str(error), False
            return
        await self._begin_session(user)
        self.busy = False
        yield rx.redirect("/")
