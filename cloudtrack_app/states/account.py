"""Log-in and sign-up forms, and the page that confirms an e-mail address from its link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import reflex as rx

from cloudtrack_app.auth import accounts, verification
from cloudtrack_app.auth.state import AccountError, AuthState, safe_next
from cloudtrack_app.models import VerificationPurpose
from cloudtrack_app.settings import get_settings


class AccountFormState(AuthState):
    form_error: str = ""
    form_message: str = ""
    busy: bool = False

    def _next_path(self) -> str:
        query = parse_qs(urlsplit(str(self.router.url)).query)
        return safe_next((query.get("next") or [""])[0])

    @rx.event
    async def open_public_page(self) -> rx.event.EventSpec | None:
        """on_load of log-in and sign-up: someone already logged in goes to the dashboard."""
        self.form_error = self.form_message = ""
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
            result = await verification.request_signup(
                str(form.get("email", "")),
                str(form.get("password", "")),
                str(form.get("display_name", "")),
                self.router.session.client_ip or None,
            )
        except AccountError as error:
            self.form_error, self.busy = str(error), False
            return
        self.busy = False
        if result.user is None:
            self.form_message = result.message
            return
        await self._begin_session(result.user)
        yield rx.redirect("/")


_CONFIRM_WORDS = {
    VerificationPurpose.SIGNUP: ("Finish signing up", "Confirm {email} to create your CloudTrack account."),
    VerificationPurpose.ACCOUNT: ("Confirm your address", "Confirm {email} as your account's address."),
    VerificationPurpose.ALERT: ("Confirm your alert address", "Confirm {email} to receive alerts there."),
    VerificationPurpose.CHANGE: ("Change your address", "Confirm {email} as your account's new address."),
}


class VerifyState(AuthState):
    """`/verify?token=…`: the link from an e-mail. It acts only on a click (mail scanners open links)."""

    verify_title: str = "Confirm your address"
    verify_text: str = ""
    verify_ready: bool = False
    verify_done: bool = False
    verify_busy: bool = False

    def _token(self) -> str:
        query = parse_qs(urlsplit(str(self.router.url)).query)
        return (query.get("token") or [""])[0][:200]

    @rx.event
    async def open_verify_page(self) -> None:
        self.verify_ready = self.verify_done = self.verify_busy = False
        try:
            pending = await asyncio.to_thread(verification.peek, self._token())
        except AccountError as error:
            self.verify_title, self.verify_text = "This link cannot be used", str(error)
            return
        title, text = _CONFIRM_WORDS[pending.purpose]
        self.verify_title, self.verify_text = title, text.format(email=pending.email)
        self.verify_ready = True

    @rx.event
    async def confirm_verification(self) -> AsyncIterator[rx.event.EventSpec | None]:
        if self.verify_busy or not self.verify_ready:
            return
        self.verify_busy = True
        yield
        try:
            confirmed = await verification.confirm_link(self._token())
        except AccountError as error:
            self.verify_title, self.verify_text = "This link cannot be used", str(error)
            self.verify_ready = self.verify_busy = False
            return
        self.verify_ready, self.verify_busy, self.verify_done = False, False, True
        self.verify_title, self.verify_text = "Done", confirmed.message
        if confirmed.purpose == VerificationPurpose.SIGNUP:
            await self._begin_session(confirmed.user)
            yield rx.redirect("/")
