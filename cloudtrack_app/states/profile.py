"""Account settings: display name, timezone, password, deleting the account."""

from __future__ import annotations

import asyncio
from zoneinfo import available_timezones

import reflex as rx

from cloudtrack_app.auth import accounts
from cloudtrack_app.auth.state import AccountError, AuthState, NotAuthenticatedError
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User

TIMEZONES: list[str] = sorted(tz for tz in available_timezones() if "/" in tz or tz == "UTC")


def _load_profile(user_id: int) -> tuple[str, str]:
    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        return user.display_name, user.timezone


def _save_profile(user_id: int, display_name: str, timezone: str) -> None:
    display_name = accounts.validate_display_name(display_name)
    if timezone not in TIMEZONES:
        raise AccountError("Choose a timezone from the list.")
    with session_scope() as db:
        user = db.get(User, user_id)
        assert user is not None
        user.display_name, user.timezone = display_name, timezone
        db.add(user)


class ProfileState(AuthState):
    profile_name: str = ""
    profile_timezone: str = "UTC"
    profile_message: str = ""
    profile_error: str = ""
    password_message: str = ""
    password_error: str = ""
    delete_error: str = ""

    @rx.var(cache=True)
    def timezone_options(self) -> list[str]:
        return TIMEZONES

    @rx.event
    async def load_profile(self) -> rx.event.EventSpec | None:
        user = await self._user()
        if user is None:
            return self._login_redirect()
        self.profile_name, self.profile_timezone = await asyncio.to_thread(_load_profile, user.id)
        self.profile_message = self.profile_error = self.password_message = self.password_error = ""
        self.delete_error = ""
        return None

    @rx.event
    def set_profile_timezone(self, value: str) -> None:
        self.profile_timezone = value

    @rx.event
    async def save_profile(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        try:
            user = await self._require_user()
            await asyncio.to_thread(
                _save_profile, user.id, str(form.get("display_name", "")), self.profile_timezone
            )
        except NotAuthenticatedError:
            return self._login_redirect()
        except AccountError as error:
            self.profile_error, self.profile_message = str(error), ""
            return None
        self.profile_name = self.display_name = accounts.validate_display_name(
            str(form.get("display_name", ""))
        )
        self.profile_error, self.profile_message = "", "Saved."
        return None

    @rx.event
    async def change_password(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        new, repeat = str(form.get("new_password", "")), str(form.get("repeat_password", ""))
        try:
            user = await self._require_user()
            if new != repeat:
                raise AccountError("The two new passwords differ.")
            await asyncio.to_thread(
                accounts.change_password, user.id, str(form.get("current_password", "")), new
            )
        except NotAuthenticatedError:
            return self._login_redirect()
        except AccountError as error:
            self.password_error, self.password_message = str(error), ""
            return None
        self.password_error, self.password_message = "", "Password changed."
        return rx.set_value("current_password", "")

    @rx.event
    async def delete_account(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        try:
            user = await self._require_user()
            await asyncio.to_thread(accounts.authenticate, user.email, str(form.get("confirm_password", "")))
        except NotAuthenticatedError:
            return self._login_redirect()
        except AccountError:
            self.delete_error = "Enter your current password to delete the account."
            return None
        await asyncio.to_thread(accounts.delete_account, user.id)
        self.session_token = ""
        self.display_name = self.email = ""
        return rx.redirect("/")
