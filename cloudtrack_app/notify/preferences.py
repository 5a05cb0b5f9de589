"""A person's alert preferences and new-watch defaults, as the settings page edits them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudtrack_app.auth.accounts import AccountError, validate_email
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User, WatchMode
from cloudtrack_app.notify.compose import TONES, ai_configured
from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.ingest import IngestError, validate_rules
from cloudtrack_app.tracking.new_watch_rules import defaults_of


@dataclass(frozen=True)
class Preferences:
    email_alerts: bool
    alert_email: str  # "" means the account's address
    account_email: str
    telegram_alerts: bool
    telegram_linked: bool
    ai_text: bool
    ai_tone: str
    ai_available: bool  # the server has an OpenAI-compatible endpoint configured


def load_preferences(user_id: int, settings: Settings | None = None) -> Preferences:
    settings = settings or get_settings()
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        return Preferences(
            email_alerts=user.email_alerts,
            alert_email=user.alert_email or "",
            account_email=user.email,
            telegram_alerts=user.telegram_alerts,
            telegram_linked=user.telegram_chat_id is not None,
            ai_text=user.ai_text,
            ai_tone=user.ai_tone if user.ai_tone in TONES else TONES[0],
            ai_available=ai_configured(settings),
        )


def save_preferences(
    user_id: int, *, email_alerts: bool, alert_email: str, telegram_alerts: bool, ai_text: bool, ai_tone: str
) -> None:
    """Store the choices; raises `AccountError` with a message for a bad address or tone."""
    address = alert_email.strip()
    if address:
        address = validate_email(address)
    if ai_tone not in TONES:
        raise AccountError(f"Choose a tone: {', '.join(TONES)}.")
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        if address != (user.alert_email or ""):
            user.email_channel_error = None  # a new address deserves a fresh try
        user.email_alerts, user.alert_email = email_alerts, address or None
        user.telegram_alerts, user.ai_text, user.ai_tone = telegram_alerts, ai_text, ai_tone
        db.add(user)


@dataclass(frozen=True)
class WatchDefaults:
    """The "now watching" switch, and the rules the add-product page starts a new watch with."""

    confirmation_messages: bool
    default_mode: str
    default_drop_percent: str  # "" for none
    default_lowest_window: str  # "30", "90", "365" or "" for none
    default_notify_increase: bool


def load_watch_defaults(user_id: int) -> WatchDefaults:
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        defaults = defaults_of(user)
        percent = defaults.rule.drop_percent
        return WatchDefaults(
            confirmation_messages=user.confirmation_messages,
            default_mode=defaults.mode,
            default_drop_percent=f"{Decimal(percent).normalize():f}" if percent is not None else "",
            default_lowest_window=str(defaults.rule.lowest_window_days or ""),
            default_notify_increase=defaults.rule.notify_increase,
        )


def save_watch_defaults(
    user_id: int,
    *,
    confirmation_messages: bool,
    default_mode: str,
    default_drop_percent: str,
    default_lowest_window: str,
    default_notify_increase: bool,
) -> None:
    """Store them; raises `AccountError` with the app's words for a rule a watch could not have."""
    try:
        mode = WatchMode(default_mode)
        rules = validate_rules(
            mode, None, default_drop_percent, default_lowest_window, default_notify_increase
        )
    except ValueError as error:
        raise AccountError("Choose what new watches wait for: price, stock or both.") from error
    except IngestError as error:
        raise AccountError(error.message) from error
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise LookupError(f"No user with id {user_id}.")
        user.confirmation_messages = confirmation_messages
        user.default_watch_mode = mode
        user.default_drop_percent = rules.drop_percent
        user.default_lowest_window_days = rules.lowest_window_days
        user.default_notify_increase = rules.notify_increase
        db.add(user)
