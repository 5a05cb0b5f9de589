"""Account settings: display name, timezone, e-mail address, password, deleting the account."""

from __future__ import annotations

import asyncio
import functools

import reflex as rx

from cloudtrack_app.auth import accounts, verification
from cloudtrack_app.auth.state import AccountError, AuthState, login_required
from cloudtrack_app.models import VerificationPurpose

# Read when the app starts, not on someone's first visit to the settings page.
TIMEZONE_OPTIONS: list[str] = list(accounts.timezones())
BROWSER_TIMEZONE_SCRIPT = "Intl.DateTimeFormat().resolvedOptions().timeZone"


class ProfileState(AuthState):
    profile_name: str = ""
    profile_timezone: str = "UTC"
    profile_message: str = ""
    profile_error: str = ""
    password_message: str = ""
    password_error: str = ""
    delete_error: str = ""
    email_verified: bool = True
    pending_email: str = ""
    mail_configured: bool = False
    email_message: str = ""
    email_error: str = ""

    @rx.var(cache=True)
    def timezone_options(self) -> list[str]:
        return TIMEZONE_OPTIONS

    @rx.event
    async def load_profile(self) -> rx.event.EventSpec | None:
        user = await self._user()
        if user is None:
            return self._login_redirect()
        profile = await asyncio.to_thread(accounts.profile_of, user.id)
        self.profile_name, self.profile_timezone = profile.display_name, profile.timezone or "UTC"
        self.profile_message = self.profile_error = self.password_message = self.password_error = ""
        self.delete_error = self.email_message = self.email_error = ""
        await self._load_address(user.id)
        if not profile.timezone:
            return rx.call_script(BROWSER_TIMEZONE_SCRIPT, callback=ProfileState.store_browser_timezone)
        return None

    async def _load_address(self, user_id: int) -> None:
        status = await asyncio.to_thread(verification.address_status, user_id)
        self.email_verified, self.pending_email = status.verified, status.pending_email
        self.mail_configured = status.mail_configured

    @rx.event
    @login_required
    async def send_verification_link(self) -> rx.event.EventSpec | None:
        user = await self._require_user()
        try:
            message = await verification.send_address_link(user.id, VerificationPurpose.ACCOUNT)
        except AccountError as error:
            self.email_error, self.email_message = str(error), ""
            return None
        self.email_error, self.email_message = "", message
        return None

    @rx.event
    @login_required
    async def change_email(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        try:
            message = await verification.request_email_change(
                user,
                str(form.get("new_email", "")),
                str(form.get("email_password", "")),
                self._client_address(),
            )
        except AccountError as error:
            self.email_error, self.email_message = str(error), ""
            return None
        self.email_error, self.email_message = "", message
        await self._load_address(user.id)
        return None

    @rx.event
    @login_required
    async def detect_timezone(self) -> rx.event.EventSpec | None:
        """After sign-up (the first dashboard): ask the browser for its zone if none is chosen."""
        user = await self._require_user()
        profile = await asyncio.to_thread(accounts.profile_of, user.id)
        if profile.timezone:
            return None
        return rx.call_script(BROWSER_TIMEZONE_SCRIPT, callback=ProfileState.store_browser_timezone)

    @rx.event
    @login_required
    async def store_browser_timezone(self, timezone: str) -> rx.event.EventSpec | None:
        user = await self._require_user()
        stored = await asyncio.to_thread(accounts.adopt_browser_timezone, user.id, str(timezone or ""))
        if stored is not None:
            self.profile_timezone = stored
        return None

    @rx.event
    def set_profile_timezone(self, value: str) -> None:
        self.profile_timezone = value

    @rx.event
    @login_required
    async def save_profile(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        try:
            profile = await asyncio.to_thread(
                accounts.update_profile, user.id, str(form.get("display_name", "")), self.profile_timezone
            )
        except AccountError as error:
            self.profile_error, self.profile_message = str(error), ""
            return None
        self.profile_name = self.display_name = profile.display_name
        self.profile_error, self.profile_message = "", "Saved."
        return None

    @rx.event
    @login_required
    async def change_password(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        new, repeat = str(form.get("new_password", "")), str(form.get("repeat_password", ""))
        user = await self._require_user()
        try:
            if new != repeat:
                raise AccountError("The two new passwords differ.")
            await asyncio.to_thread(
                functools.partial(
                    accounts.change_password,
                    user.id,
                    str(form.get("current_password", "")),
                    new,
                    client=self._client_address(),
                    keep_token=self.session_token,
                )
            )
        except AccountError as error:
            self.password_error, self.password_message = str(error), ""
            return None
        self.password_error, self.password_message = "", "Password changed."
        return rx.set_value("current_password", "")

    @rx.event
    @login_required
    async def delete_account(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        try:
            await asyncio.to_thread(
                accounts.verify_current_password,
                user.id,
                str(form.get("confirm_password", "")),
                self._client_address(),
            )
        except AccountError:
            self.delete_error = "Enter your current password to delete the account."
            return None
        await asyncio.to_thread(accounts.delete_account, user.id)
        self.session_token = ""
        self.display_name = self.email = ""
        return rx.redirect("/")
