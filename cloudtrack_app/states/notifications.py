"""Alert preferences on the settings page: channels, Telegram linking, Apprise URLs, AI text, test alert."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict

import reflex as rx

from cloudtrack_app.auth import verification
from cloudtrack_app.auth.state import AccountError, AuthState, login_required
from cloudtrack_app.models import VerificationPurpose
from cloudtrack_app.notify import telegram
from cloudtrack_app.notify.apprise_channel import AppriseTargetError, add_target, remove_target, target_id_of
from cloudtrack_app.notify.compose import TONES
from cloudtrack_app.notify.dispatch import send_test_alert
from cloudtrack_app.notify.preferences import load_preferences, save_preferences
from cloudtrack_app.views.channels import (
    NO_CHANNEL,
    ChannelLine,
    apprise_lines,
    channel_lines,
    describe_test_alert,
)


class NotificationsState(AuthState):
    email_alerts: bool = True
    alert_email: str = ""
    alert_email_verified: bool = True
    account_email: str = ""
    telegram_alerts: bool = True
    telegram_linked: bool = False
    ai_text: bool = True
    ai_tone: str = "friendly"
    ai_available: bool = False
    email_channel: ChannelLine = NO_CHANNEL
    telegram_channel: ChannelLine = NO_CHANNEL
    _channel_lines: dict[str, ChannelLine] = {}
    link_url: str = ""
    link_qr: str = ""
    notify_message: str = ""
    notify_error: str = ""
    test_results: list[str] = []
    testing: bool = False
    apprise_channels: list[ChannelLine] = []
    apprise_message: str = ""
    apprise_error: str = ""
    # Clears the add form's inputs after an Apprise URL was taken (their `key`).
    apprise_form_key: int = 0

    @rx.var(cache=True)
    def tones(self) -> list[str]:
        return list(TONES)

    @rx.var
    def telegram_configured(self) -> bool:
        return self.telegram_channel.switch_enabled

    async def _load(self, user_id: int) -> None:
        prefs = await asyncio.to_thread(load_preferences, user_id)
        for name, value in asdict(prefs).items():
            setattr(self, name, value)
        self.alert_email_verified = await asyncio.to_thread(verification.alert_address_verified, user_id)
        self._channel_lines = await asyncio.to_thread(channel_lines, user_id)
        self.email_channel = self._channel_lines.get("email", NO_CHANNEL)
        self.telegram_channel = self._channel_lines.get("telegram", NO_CHANNEL)
        self.apprise_channels = apprise_lines(self._channel_lines)

    @rx.event
    async def load_notifications(self) -> rx.event.EventSpec | None:
        self.link_url = self.link_qr = self.notify_message = self.notify_error = ""
        self.apprise_message = self.apprise_error = ""
        self.test_results, self.testing = [], False
        user = await self._user()
        if user is None:
            return self._login_redirect()
        await self._load(user.id)
        return None

    @rx.event
    def set_email_alerts(self, value: bool) -> None:
        self.email_alerts = bool(value)

    @rx.event
    def set_telegram_alerts(self, value: bool) -> None:
        self.telegram_alerts = bool(value)

    @rx.event
    def set_ai_text(self, value: bool) -> None:
        self.ai_text = bool(value)

    @rx.event
    def set_ai_tone(self, value: str) -> None:
        self.ai_tone = value

    @rx.event
    @login_required
    async def save_notifications(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        previous_address = self.alert_email
        try:
            await asyncio.to_thread(
                lambda: save_preferences(
                    user.id,
                    email_alerts=self.email_alerts,
                    alert_email=str(form.get("alert_email", "")),
                    telegram_alerts=self.telegram_alerts,
                    ai_text=self.ai_text,
                    ai_tone=self.ai_tone,
                )
            )
        except AccountError as error:
            self.notify_error, self.notify_message = str(error), ""
            return None
        await self._load(user.id)
        self.notify_error, self.notify_message = "", "Alert settings saved."
        if (
            self.alert_email != previous_address
            and not self.alert_email_verified
            and self.email_channel.switch_enabled
        ):
            try:
                sent = await verification.send_address_link(user.id, VerificationPurpose.ALERT)
            except AccountError as error:
                sent = str(error)
            self.notify_message = f"Alert settings saved. {sent} E-mail alerts go there once you do."
        return None

    @rx.event
    @login_required
    async def send_alert_link(self) -> rx.event.EventSpec | None:
        user = await self._require_user()
        try:
            self.notify_message = await verification.send_address_link(user.id, VerificationPurpose.ALERT)
            self.notify_error = ""
        except AccountError as error:
            self.notify_error, self.notify_message = str(error), ""
        return None

    @rx.event
    @login_required
    async def link_telegram(self) -> rx.event.EventSpec | None:
        user = await self._require_user()
        try:
            token = await asyncio.to_thread(telegram.create_link_token, user.id)
            self.link_url = await telegram.telegram_link_url(token)
        except Exception as error:  # the bot API is another service: say so, don't crash
            self.notify_error = f"Telegram did not answer ({type(error).__name__}). Try again in a moment."
            return None
        self.link_qr = telegram.qr_svg_data_uri(self.link_url)
        return None

    @rx.event
    async def refresh_telegram(self) -> rx.event.EventSpec | None:
        """After the person pressed Start in Telegram: show whether the chat is linked now."""
        user = await self._user()
        if user is None:
            return self._login_redirect()
        await self._load(user.id)
        if self.telegram_linked:
            self.link_url = self.link_qr = ""
        return None

    @rx.event
    async def unlink_telegram(self) -> rx.event.EventSpec | None:
        user = await self._user()
        if user is None:
            return self._login_redirect()
        await asyncio.to_thread(telegram.unlink_telegram, user.id)
        await self._load(user.id)
        return None

    @rx.event
    @login_required
    async def add_apprise(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        user = await self._require_user()
        name, url = str(form.get("apprise_name", "")), str(form.get("apprise_url", ""))
        try:
            # Looks the host up (the address check), so it runs outside the event loop.
            added = await asyncio.to_thread(add_target, user.id, url, name)
        except AppriseTargetError as error:
            self.apprise_error, self.apprise_message = str(error), ""
            return None
        await self._load(user.id)
        self.apprise_error = ""
        self.apprise_message = f"Added {added.name} ({added.shown_url}). Send it a test to check it works."
        self.apprise_form_key += 1
        return None

    @rx.event
    @login_required
    async def remove_apprise(self, delivery_name: str) -> rx.event.EventSpec | None:
        user = await self._require_user()
        target_id = target_id_of(str(delivery_name))
        removed = target_id is not None and await asyncio.to_thread(remove_target, user.id, target_id)
        await self._load(user.id)
        self.apprise_error = "" if removed else "That Apprise channel is gone already."
        self.apprise_message = "Apprise channel removed." if removed else ""
        return None

    @rx.event(background=True)
    async def send_test(self) -> AsyncIterator[rx.event.EventSpec | None]:
        async for step in self._test_alert(None):
            yield step

    @rx.event(background=True)
    async def test_apprise(self, delivery_name: str) -> AsyncIterator[rx.event.EventSpec | None]:
        async for step in self._test_alert(str(delivery_name)):
            yield step

    async def _test_alert(self, only: str | None) -> AsyncIterator[rx.event.EventSpec | None]:
        # Run from background events: sending waits on the providers, outside the state lock.
        async with self:
            if self.testing:
                return
            user = await self._user()
            if user is not None:
                self.testing, self.test_results = True, []
        if user is None:
            yield self._login_redirect()
            return
        results = ["The test alert could not be sent just now. Try again in a moment."]
        outcomes = None
        try:
            try:
                await asyncio.to_thread(verification.allow_test_alert, user.id)
            except AccountError as error:
                results = [str(error)]
                return
            outcomes = await send_test_alert(user.id, only=only)
        finally:
            async with self:
                await self._load(user.id)
                if outcomes is not None and only is not None:
                    lines = {only: self._channel_lines[only]} if only in self._channel_lines else {}
                    results = describe_test_alert(outcomes, lines) or ["That Apprise channel is gone."]
                elif outcomes is not None:
                    results = describe_test_alert(outcomes, self._channel_lines) or [
                        "No channel is set up: the test alert is recorded and shown in the app only."
                    ]
                self.test_results, self.testing = results, False
