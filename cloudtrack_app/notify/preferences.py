"""A person's alert preferences as the settings page edits them."""

from __future__ import annotations

from dataclasses import dataclass

from cloudtrack_app.auth.accounts import AccountError, validate_email
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import User
from cloudtrack_app.notify.compose import TONES, ai_configured
from cloudtrack_app.settings import Settings, get_settings


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
