"""The settings page's "New watches" block: the "now watching" switch and default rules."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

import reflex as rx

from cloudtrack_app.auth.state import AccountError, AuthState, login_required
from cloudtrack_app.notify.preferences import load_watch_defaults, save_watch_defaults

NO_WINDOW = "none"  # a select item cannot have "" as its value


class WatchDefaultsState(AuthState):
    confirmation_messages: bool = True
    default_mode: str = "price"
    default_drop_percent: str = ""
    default_lowest_window: str = NO_WINDOW
    default_notify_increase: bool = False
    defaults_message: str = ""
    defaults_error: str = ""

    async def _load(self, user_id: int) -> None:
        defaults = await asyncio.to_thread(load_watch_defaults, user_id)
        for name, value in asdict(defaults).items():
            setattr(self, name, value)
        self.default_lowest_window = self.default_lowest_window or NO_WINDOW

    @rx.event
    async def load_defaults(self) -> rx.event.EventSpec | None:
        self.defaults_message = self.defaults_error = ""
        user = await self._user()
        if user is None:
            return self._login_redirect()
        await self._load(user.id)
        return None

    @rx.event
    def set_confirmation_messages(self, value: bool) -> None:
        self.confirmation_messages = bool(value)

    @rx.event
    def set_default_mode(self, value: str) -> None:
        self.default_mode = value

    @rx.event
    def set_default_lowest_window(self, value: str) -> None:
        self.default_lowest_window = value

    @rx.event
    def set_default_notify_increase(self, value: bool) -> None:
        self.default_notify_increase = bool(value)

    @rx.event
    @login_required
    async def save_defaults(self, form: dict[str, str]) -> None:
        user = await self._require_user()
        window = "" if self.default_lowest_window == NO_WINDOW else self.default_lowest_window
        try:
            await asyncio.to_thread(
                lambda: save_watch_defaults(
                    user.id,
                    confirmation_messages=self.confirmation_messages,
                    default_mode=self.default_mode,
                    default_drop_percent=str(form.get("default_drop_percent", "")),
                    default_lowest_window=window,
                    default_notify_increase=self.default_notify_increase,
                )
            )
        except AccountError as error:
            self.defaults_error, self.defaults_message = str(error), ""
            return
        await self._load(user.id)
        self.defaults_error, self.defaults_message = "", "New-watch settings saved."
