"""E-mail through Resend or SMTP (notify/smtp.py): alerts, and the fixed-wording account mails (address links and notices).

Every value in an alert is escaped. Account mails carry nothing a person typed except the
address they are sent to: a stranger's address must never receive text someone chose.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import httpx
import resend
from resend.exceptions import ResendError
from resend.http_client_async import AsyncHTTPClient

from cloudtrack_app.models import User, VerificationPurpose
from cloudtrack_app.notify.channels import (
    PermanentSendError,
    RenderedMessage,
    SendResult,
    TransientSendError,
    register_channel,
)
from cloudtrack_app.notify.compose import ComposedMessage
from cloudtrack_app.notify.facts import fact_rows, message_links
from cloudtrack_app.notify.smtp import SMTPSender
from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.images import product_image_url

RESEND_DEFAULT_URL = "https://api.resend.com"
# The app's teal (Radix teal 9 for buttons, teal 11 for links on white), so an alert looks like CloudTrack.
BUTTON_COLOUR = "#12a594"
LINK_COLOUR = "#008573"

log = logging.getLogger(__name__)


class PooledHTTPXClient(AsyncHTTPClient):
    """resend's async transport on one pooled httpx client (its own opens a client per e-mail)."""

    def __init__(self, timeout: float) -> None:
        self.client = httpx.AsyncClient(timeout=timeout)

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        response = await self.client.request(method, url, headers=headers, json=json, files=files, data=data)
        return response.content, response.status_code, response.headers

    async def aclose(self) -> None:
        await self.client.aclose()


class ResendSender:
    """The only user of the resend SDK's process-wide globals.

    The SDK reads `api_key`, `api_url` and its HTTP client from module globals when a
    request starts, before its first await, so setting them right before each call is
    safe on one event loop even if another configuration sent a moment ago.
    """

    def __init__(self, api_key: str, api_url: str, timeout: float) -> None:
        self.api_key = api_key
        self.api_url = (api_url or RESEND_DEFAULT_URL).rstrip("/")
        self.http_client = PooledHTTPXClient(timeout)

    async def send(self, params: dict[str, Any], idempotency_key: str) -> str:
        resend.api_key = self.api_key
        resend.api_url = self.api_url
        resend.default_async_http_client = self.http_client
        response = await resend.Emails.send_async(params, {"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        return str(response["id"])

    async def aclose(self) -> None:
        await self.http_client.aclose()


def mail_sender(settings: Settings) -> ResendSender | SMTPSender:
    """The sender of the backend EMAIL_BACKEND chose; both take the same params."""
    if settings.email_backend == "smtp":
        return SMTPSender(settings)
    return ResendSender(settings.resend_api_key, settings.resend_api_url, settings.notify_send_timeout)


def _retry_after(headers: dict[str, str]) -> float | None:
    value = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def classify_resend_error(error: ResendError) -> Exception:
    try:
        code = int(error.code)
    except (TypeError, ValueError):
        code = 500
    if code == 429:
        return TransientSendError(f"Resend rate limit: {error.message}", _retry_after(error.headers))
    if code >= 500 or code == 408:
        return TransientSendError(f"Resend is unavailable ({code}): {error.message}")
    if code in (401, 403) and error.error_type in ("missing_api_key", "invalid_api_key"):
        return PermanentSendError("The server's Resend API key was refused; ask the administrator.")
    return PermanentSendError(f"Resend refused the e-mail: {error.message}"[:500])


def render_text(message: ComposedMessage) -> str:
    facts = message.facts
    parts = [message.body, "", f"Product: {facts.title}"]
    parts += [f"{label}: {value}" for label, value in fact_rows(facts)]
    parts.append("")
    parts += [f"{label}: {url}" for label, url in message_links(facts)]
    if facts.unsubscribe_url:
        parts += ["", f"Turn off alerts for this product: {facts.unsubscribe_url}"]
    return "\n".join(parts).strip() + "\n"


def render_html(message: ComposedMessage) -> str:
    facts = message.facts
    paragraphs = "".join(
        f'<p style="margin:0 0 12px">{escape(block).replace(chr(10), "<br>")}</p>'
        for block in message.body.split("\n\n")
        if block.strip()
    )
    # The image as CloudTrack serves it (never the shop's address: opening the mail must not
    # tell the shop), or none when the alert names no product.
    image_src = product_image_url(facts.product_id, facts.image_url) if facts.product_id is not None else ""
    image = (
        f'<img src="{escape(image_src)}" alt="" width="160" '
        'style="max-width:160px;height:auto;display:block;margin:0 0 16px">'
        if image_src
        else ""
    )
    rows = "".join(
        f'<tr><td style="padding:4px 16px 4px 0;color:#555">{escape(label)}</td>'
        f'<td style="padding:4px 0"><strong>{escape(value)}</strong></td></tr>'
        for label, value in fact_rows(facts)
    )
    buttons = " ".join(
        f'<a href="{escape(url)}" style="display:inline-block;margin:0 8px 8px 0;padding:10px 16px;'
        f'background:{BUTTON_COLOUR};color:#fff;text-decoration:none;border-radius:6px">{escape(label)}</a>'
        for label, url in message_links(facts)
    )
    footer = (
        f'<p style="margin:24px 0 0;font-size:12px;color:#777">'
        f'<a href="{escape(facts.unsubscribe_url)}" style="color:#777">Turn off alerts for this product</a></p>'
        if facts.unsubscribe_url
        else ""
    )
    return (
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#111;'
        'max-width:560px;margin:0 auto;padding:16px">'
        f"{image}"
        f'<h1 style="font-size:18px;margin:0 0 16px">{escape(facts.title)}</h1>'
        f"{paragraphs}"
        f'<table style="border-collapse:collapse;margin:8px 0 16px">{rows}</table>'
        f"<p>{buttons}</p>{footer}</body></html>"
    )


@register_channel
class EmailChannel:
    name = "email"
    label = "E-mail"
    max_length = 4000

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sender = mail_sender(settings)

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        return settings.mail_configured

    @classmethod
    def recipient_for(cls, user: User) -> str | None:
        if not user.email_alerts:
            return None
        return (user.alert_email or "").strip() or user.email

    @classmethod
    def held_reason(cls, user: User) -> str | None:
        address = cls.recipient_for(user)
        if address is None or recipient_verified(user):
            return None
        return f"Not sent: {address} is not verified yet. Send yourself a verification link from Settings."

    def render(self, message: ComposedMessage) -> RenderedMessage:
        unsubscribe = message.facts.unsubscribe_url
        # RFC 8058 one-click: mail clients offer "unsubscribe" and POST to the same link.
        headers = (
            (
                ("List-Unsubscribe", f"<{unsubscribe}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            )
            if unsubscribe
            else ()
        )
        return RenderedMessage(
            subject=message.subject, body=render_text(message), html=render_html(message), headers=headers
        )

    async def send(self, rendered: RenderedMessage, recipient: str, idempotency_key: str) -> SendResult:
        params: dict[str, Any] = {
            "from": self.settings.email_from,
            "to": [recipient],
            "subject": rendered.subject,
            "html": rendered.html or "",
            "text": rendered.body,
        }
        if rendered.headers:
            params["headers"] = dict(rendered.headers)
        try:
            return SendResult(provider_id=await self.sender.send(params, idempotency_key))
        except ResendError as error:
            raise classify_resend_error(error) from error

    async def __aenter__(self) -> EmailChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.sender.aclose()


def recipient_verified(user: User) -> bool:
    """Whether the owner of the address alerts go to has followed a link (or an operator vouched)."""
    alert = (user.alert_email or "").strip().lower()
    if alert and alert != user.email:
        return alert == (user.verified_alert_email or "").lower()
    return user.email_verified_at is not None


# --- account mails -----------------------------------------------------------------


@dataclass(frozen=True)
class AccountMail:
    subject: str
    text: str

    @property
    def html(self) -> str:
        paragraphs = "".join(
            f'<p style="margin:0 0 12px">{escape(block)}</p>' for block in self.text.split("\n\n")
        )
        return (
            '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;color:#111;'
            f'max-width:560px;margin:0 auto;padding:16px">{paragraphs}</body></html>'
        )


_LINK_REASONS = {
    VerificationPurpose.SIGNUP: "to finish creating a CloudTrack account with this address",
    VerificationPurpose.ACCOUNT: "to confirm this address for their CloudTrack account",
    VerificationPurpose.ALERT: "to receive CloudTrack price alerts at this address",
    VerificationPurpose.CHANGE: "to make this address the one of their CloudTrack account",
}


def verification_mail(purpose: VerificationPurpose, link: str, public_url: str, hours: int) -> AccountMail:
    return AccountMail(
        subject="Confirm your e-mail address for CloudTrack",
        text=(
            f"Someone asked {_LINK_REASONS[purpose]} at {public_url}.\n\n"
            f"If it was you, open this link within {hours} hours (it works once):\n{link}\n\n"
            "If it was not you, ignore this e-mail: nothing happens and you will get nothing more."
        ),
    )


def address_in_use_mail(public_url: str) -> AccountMail:
    return AccountMail(
        subject="Someone tried to use your address on CloudTrack",
        text=(
            f"Someone tried to sign up at {public_url} with this e-mail address, "
            "which already has a CloudTrack account.\n\n"
            f"If it was you, log in at {public_url.rstrip('/')}/login instead.\n\n"
            "If it was not you, ignore this e-mail: your account is unchanged."
        ),
    )


def address_changed_mail(public_url: str) -> AccountMail:
    return AccountMail(
        subject="Your CloudTrack address was changed",
        text=(
            f"The e-mail address of your CloudTrack account at {public_url} was just changed, "
            "so mail for the account no longer comes here.\n\n"
            "If you did not do this, contact the administrator of this CloudTrack."
        ),
    )


async def send_account_mail(mail: AccountMail, to: str, settings: Settings) -> bool:
    """Send one account mail now; False (and a log line) when the mail backend did not take it."""
    sender = mail_sender(settings)
    params = {
        "from": settings.email_from,
        "to": [to],
        "subject": mail.subject,
        "html": mail.html,
        "text": mail.text,
    }
    try:
        await sender.send(params, f"cloudtrack-account-{secrets.token_hex(12)}")
    except (ResendError, httpx.HTTPError, PermanentSendError, TransientSendError) as error:
        log.warning("An account e-mail was not sent: %s", type(error).__name__)
        return False
    finally:
        await sender.aclose()
    return True
