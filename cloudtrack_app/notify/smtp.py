"""E-mail through the administrator's own mail server (EMAIL_BACKEND=smtp), for those who run one.

It takes the same message the Resend path builds (parts, headers, one-click unsubscribe) and
answers in the same words: a refusal (5xx) is permanent and shown to the person, a server that
is down or answers 4xx is retried. SMTP has no idempotency key, so the Message-ID is derived
from the delivery's key: a retry of the same alert carries the same Message-ID and a mail
server or client that saw the first copy can tell.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses

import aiosmtplib

from cloudtrack_app.notify.channels import PermanentSendError, TransientSendError
from cloudtrack_app.settings import Settings

# Characters RFC 5322 allows in the left part of a Message-ID (dot-atom-text).
_NOT_IN_DOT_ATOM = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_LINE_BREAKS = re.compile(r"[\r\n]+")
MAX_ERROR_CHARS = 500


def message_id(idempotency_key: str, sender: str) -> str:
    """The same Message-ID for every attempt of one delivery, in the sender's domain."""
    addresses = getaddresses([sender])
    domain = addresses[0][1].rpartition("@")[2] if addresses and "@" in addresses[0][1] else ""
    domain = _NOT_IN_DOT_ATOM.sub("", domain).strip(".") or "cloudtrack.invalid"
    left = _NOT_IN_DOT_ATOM.sub("-", idempotency_key).strip(".") or "cloudtrack"
    return f"<{left}@{domain}>"


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    headers: Mapping[str, str],
    idempotency_key: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(addr_spec=to)
    # A subject comes from a shop's title or a model: one line, whatever it holds.
    message["Subject"] = _LINE_BREAKS.sub(" ", subject).strip()
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(idempotency_key, sender)
    for name, value in headers.items():
        message[name] = _LINE_BREAKS.sub(" ", value)
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def _short(text: object) -> str:
    return str(text).strip()[:MAX_ERROR_CHARS]


def _certificate_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate check that failed under `error` (aiosmtplib wraps it on connecting)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def classify_smtp_error(error: Exception) -> Exception:
    """A permanent refusal (5xx, a certificate that does not verify) or a reason to try again
    later (4xx, no server, a timeout)."""
    if (certificate := _certificate_error(error)) is not None:
        # Retrying cannot help: the administrator must fix the server or SMTP_CA_FILE.
        return PermanentSendError(
            _short(
                "The mail server's TLS certificate could not be verified "
                f"({str(certificate.verify_message or certificate.reason).rstrip('.')}); ask the administrator."
            )
        )
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        refusals: Sequence[aiosmtplib.SMTPRecipientRefused] = error.recipients
        if refusals and all(refusal.code >= 500 for refusal in refusals):
            return PermanentSendError(
                f"The mail server refused the address ({refusals[0].code}): {refusals[0].message}"[
                    :MAX_ERROR_CHARS
                ]
            )
        detail = f" ({refusals[0].code}): {refusals[0].message}" if refusals else ""
        return TransientSendError(_short(f"The mail server deferred the e-mail{detail}"))
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return PermanentSendError("The server's SMTP login was refused; ask the administrator.")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        if error.code >= 500:
            return PermanentSendError(
                _short(f"The mail server refused the e-mail ({error.code}): {error.message}")
            )
        return TransientSendError(
            _short(f"The mail server deferred the e-mail ({error.code}): {error.message}")
        )
    if isinstance(error, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TransientSendError("The mail server did not answer in time.")
    return TransientSendError(_short(f"The mail server cannot be reached: {type(error).__name__}"))


class SMTPSender:
    """Sends the params the Resend path builds (`from`, `to`, `subject`, `text`, `html`, `headers`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, params: Mapping[str, object], idempotency_key: str) -> str:
        recipients = params["to"]
        assert isinstance(recipients, list) and len(recipients) == 1
        headers = params.get("headers") or {}
        assert isinstance(headers, Mapping)
        html = params.get("html")
        message = build_message(
            sender=str(params["from"]),
            to=str(recipients[0]),
            subject=str(params["subject"]),
            text=str(params["text"]),
            html=str(html) if html else None,
            headers=headers,
            idempotency_key=idempotency_key,
        )
        settings = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.effective_smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                use_tls=settings.smtp_security == "tls",
                start_tls=settings.smtp_security == "starttls",
                cert_bundle=settings.smtp_ca_file or None,
                timeout=settings.notify_send_timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise classify_smtp_error(error) from error
        return str(message["Message-ID"])

    async def aclose(self) -> None:
        """Each send opens and closes its own connection: nothing stays open."""
