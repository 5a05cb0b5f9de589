"""Telegram alerts through python-telegram-bot, and linking a chat without typing ids.

Linking: settings shows `t.me/<bot>?start=<one-time token>` (and its QR code); the
person taps Start, the bot receives `/start <token>` (long polling in a lifespan task,
or a webhook for several replicas) and binds that chat to the account. `/stop` unlinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import warnings
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import urlsplit

import segno
from sqlalchemy import update
from sqlmodel import select
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User, utcnow
from cloudtrack_app.notify.channels import (
    PermanentSendError,
    RenderedMessage,
    SendResult,
    TransientSendError,
    register_channel,
)
from cloudtrack_app.notify.compose import ComposedMessage
from cloudtrack_app.notify.facts import fact_rows, message_links
from cloudtrack_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Opt in to python-telegram-bot's coming behaviour (durations as timedelta) instead of a
# deprecation warning on every rate limit.
os.environ.setdefault("PTB_TIMEDELTA", "true")

TELEGRAM_DEFAULT_URL = "https://api.telegram.org"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT_SECONDS = 25
POLL_ERROR_PAUSE_SECONDS = 5.0
POLL_CONFLICT_PAUSE_SECONDS = 30.0

_bot_usernames: dict[tuple[str, str], str] = {}  # (API URL, token) -> @username


def make_bot(settings: Settings) -> Bot:
    base = (settings.telegram_api_url or TELEGRAM_DEFAULT_URL).rstrip("/")
    timeout = settings.notify_send_timeout
    return Bot(
        settings.telegram_bot_token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=HTTPXRequest(read_timeout=timeout, write_timeout=timeout, connect_timeout=timeout),
        get_updates_request=HTTPXRequest(read_timeout=timeout, connect_timeout=timeout),
    )


def _bot_key(settings: Settings) -> tuple[str, str]:
    return settings.telegram_api_url, settings.telegram_bot_token


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def classify_telegram_error(error: TelegramError) -> Exception:
    if isinstance(error, RetryAfter):
        return TransientSendError("Telegram asked to slow down.", retry_after_seconds(error))
    if isinstance(error, Forbidden):
        return PermanentSendError(
            "The CloudTrack bot was blocked or removed from the chat. Link Telegram again in settings."
        )
    if isinstance(error, InvalidToken):
        return PermanentSendError("The server's Telegram bot token was refused; ask the administrator.")
    if isinstance(error, ChatMigrated | BadRequest):
        return PermanentSendError(f"Telegram refused the message: {error.message}"[:500])
    return TransientSendError(f"Telegram is unavailable: {error.message}"[:500])


def _button_url_allowed(url: str) -> bool:
    """Telegram rejects buttons pointing at loopback or single-label hosts (e.g. localhost)."""
    host = urlsplit(url).hostname or ""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return "." in host and not host.endswith(".localhost")


def render_telegram(message: ComposedMessage) -> RenderedMessage:
    facts = message.facts
    lines = [f"<b>{escape(message.subject, quote=False)}</b>", "", escape(message.body, quote=False), ""]
    lines += [
        f"{escape(label, quote=False)}: <b>{escape(value, quote=False)}</b>"
        for label, value in fact_rows(facts)
    ]
    links = tuple((label, url) for label, url in message_links(facts) if _button_url_allowed(url))
    return RenderedMessage(subject=message.subject, body="\n".join(lines).strip(), links=links)


@register_channel
class TelegramChannel:
    name = "telegram"
    label = "Telegram"
    max_length = 3000  # Telegram's 4096 minus the subject, facts and some room

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bot = make_bot(settings)
        self.initialized = False

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        return bool(settings.telegram_bot_token)

    @classmethod
    def recipient_for(cls, user: User) -> str | None:
        if not user.telegram_alerts or user.telegram_chat_id is None:
            return None
        return str(user.telegram_chat_id)

    @classmethod
    def held_reason(cls, user: User) -> str | None:
        return None  # a chat is linked only by its owner pressing Start with a one-time token

    def render(self, message: ComposedMessage) -> RenderedMessage:
        return render_telegram(message)

    async def send(self, rendered: RenderedMessage, recipient: str, idempotency_key: str) -> SendResult:
        # The Bot API has no idempotency key; the dispatcher's claim keeps duplicates to a crash window.
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, url=url)] for label, url in rendered.links]
        )
        try:
            if not self.initialized:
                await self.bot.initialize()
                self.initialized = True
            sent = await self.bot.send_message(
                chat_id=int(recipient),
                text=rendered.body,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if rendered.links else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except TelegramError as error:
            raise classify_telegram_error(error) from error
        return SendResult(provider_id=f"{sent.chat_id}:{sent.message_id}")

    async def __aenter__(self) -> TelegramChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.bot.shutdown()  # a no-op unless a send initialised the bot


# --- linking --------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link_token(user_id: int, *, settings: Settings | None = None) -> str:
    """A one-time token for `t.me/<bot>?start=<token>`; only its hash is stored."""
    settings = settings or get_settings()
    token = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-], as /start allows
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        user.telegram_link_token_hash = _token_hash(token)
        user.telegram_link_expires_at = utcnow() + timedelta(minutes=settings.telegram_link_minutes)
    return token


async def bot_username(settings: Settings | None = None) -> str:
    """The bot's @username from getMe, asked once per process and token."""
    settings = settings or get_settings()
    if not settings.telegram_bot_token:
        raise RuntimeError("Telegram is not configured (TELEGRAM_BOT_TOKEN).")
    key = _bot_key(settings)
    if key not in _bot_usernames:
        async with make_bot(settings) as bot:
            _bot_usernames[key] = bot.username
    return _bot_usernames[key]


async def telegram_link_url(token: str, *, settings: Settings | None = None) -> str:
    return f"https://t.me/{await bot_username(settings)}?start={token}"


def qr_svg_data_uri(text: str) -> str:
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


def bind_chat(token: str, chat_id: int) -> User | None:
    """Bind `chat_id` to the account whose unexpired link token this is; None if none is."""
    now = utcnow()
    with session_scope() as db:
        user = db.exec(select(User).where(User.telegram_link_token_hash == _token_hash(token))).first()
        if user is None or user.telegram_link_expires_at is None or user.telegram_link_expires_at < now:
            return None
        user.telegram_chat_id = chat_id
        user.telegram_alerts = True
        user.telegram_channel_error = None
        user.telegram_link_token_hash = None
        user.telegram_link_expires_at = None
        db.flush()
        db.expunge(user)
        return user


def unlink_chat(chat_id: int) -> int:
    """Unlink every account bound to this chat (the person sent /stop); returns how many."""
    with session_scope() as db:
        result = db.exec(  # type: ignore[call-overload]
            update(User)
            .where(User.telegram_chat_id == chat_id)
            .values(telegram_chat_id=None, telegram_channel_error=None)
        )
        return int(result.rowcount or 0)


def unlink_telegram(user_id: int) -> None:
    """The settings page's "Unlink Telegram"."""
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is not None:
            user.telegram_chat_id = None
            user.telegram_channel_error = None
            user.telegram_link_token_hash = None
            user.telegram_link_expires_at = None


HELP_TEXT = (
    "This is the CloudTrack alerts bot. To link it, open Settings in CloudTrack and use the "
    "Telegram link or QR code there. Send /stop to stop alerts in this chat."
)


def _command(text: str) -> tuple[str, str]:
    head, _, rest = text.strip().partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


async def reply_for(text: str, chat_id: int) -> str:
    """What the bot answers to a message in `chat_id` (HTML parse mode)."""
    command, argument = _command(text)
    if command == "/start" and argument:
        user = await asyncio.to_thread(bind_chat, argument, chat_id)
        if user is None:
            return "This link has expired or was already used. Open Settings in CloudTrack for a new one."
        return (
            f"Linked to CloudTrack as <b>{escape(user.display_name, quote=False)}</b>. "
            "Your alerts will arrive here. Send /stop to unlink."
        )
    if command == "/stop":
        count = await asyncio.to_thread(unlink_chat, chat_id)
        if count:
            return "Unlinked. CloudTrack will not send alerts to this chat any more."
        return "This chat is not linked to a CloudTrack account."
    return escape(HELP_TEXT, quote=False)


async def handle_update(bot: Bot, update: Update) -> None:
    message = update.effective_message
    if message is None or not message.text or message.chat is None:
        return
    answer = await reply_for(message.text, message.chat.id)
    try:
        await bot.send_message(chat_id=message.chat.id, text=answer, parse_mode=ParseMode.HTML)
    except TelegramError as error:
        log.warning("Telegram reply to chat %s failed: %s", message.chat.id, error)


# --- receiving updates: long polling or webhook ---------------------------------------


async def _unless_stopped(awaitable: Any, stop: asyncio.Event) -> Any:
    """`awaitable`'s result, or None as soon as `stop` is set (the awaitable is cancelled)."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stopper):
        if pending not in done:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
    return task.result() if task in done else None


async def _pause(seconds: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_telegram_polling(
    stop: asyncio.Event, *, settings: Settings | None = None, poll_timeout: int = POLL_TIMEOUT_SECONDS
) -> None:
    """Receive bot updates by long polling until `stop` is set (the default mode).

    Only one process may poll a bot; a second one gets 409 Conflict and waits, so with
    several workers or replicas use TELEGRAM_MODE=webhook.
    """
    settings = settings or get_settings()
    if not settings.telegram_bot_token:
        return
    bot = make_bot(settings)
    offset: int | None = None
    initialized = False
    try:
        while not stop.is_set():
            try:
                if not initialized:
                    await _unless_stopped(bot.initialize(), stop)
                    if stop.is_set():
                        break
                    _bot_usernames[_bot_key(settings)] = bot.username
                    await bot.delete_webhook()
                    initialized = True
                updates = await _unless_stopped(
                    bot.get_updates(offset=offset, timeout=poll_timeout, allowed_updates=["message"]), stop
                )
            except RetryAfter as error:
                await _pause(retry_after_seconds(error), stop)
                continue
            except Conflict:
                log.warning("Another process is polling this Telegram bot; use TELEGRAM_MODE=webhook.")
                await _pause(POLL_CONFLICT_PAUSE_SECONDS, stop)
                continue
            except TelegramError as error:
                log.warning("Telegram polling failed: %s", error)
                await _pause(POLL_ERROR_PAUSE_SECONDS, stop)
                continue
            for update_ in updates or ():
                offset = update_.update_id + 1
                try:
                    await handle_update(bot, update_)
                except Exception:
                    log.exception("Handling Telegram update %s failed", update_.update_id)
    finally:
        with contextlib.suppress(Exception):
            await bot.shutdown()


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends back in every webhook call, derived from SECRET_KEY."""
    return hmac.new(settings.effective_secret_key.encode(), b"telegram-webhook", hashlib.sha256).hexdigest()


def webhook_url(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}{WEBHOOK_PATH}"


async def register_webhook(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    async with make_bot(settings) as bot:
        _bot_usernames[_bot_key(settings)] = bot.username
        await bot.set_webhook(
            url=webhook_url(settings), secret_token=webhook_secret(settings), allowed_updates=["message"]
        )


async def run_telegram(stop: asyncio.Event, *, settings: Settings | None = None) -> None:
    """The lifespan task: poll for updates, or register the webhook, per TELEGRAM_MODE."""
    settings = settings or get_settings()
    if not settings.telegram_bot_token:
        return
    if settings.telegram_mode == "polling":
        await run_telegram_polling(stop, settings=settings)
        return
    while not stop.is_set():
        try:
            await register_webhook(settings)
            return
        except TelegramError as error:
            log.warning("Registering the Telegram webhook failed: %s", error)
            await _pause(POLL_CONFLICT_PAUSE_SECONDS, stop)


async def handle_webhook_payload(payload: Any, settings: Settings) -> None:
    async with make_bot(settings) as bot:
        update_ = Update.de_json(payload, bot)
        if update_ is not None:
            await handle_update(bot, update_)
