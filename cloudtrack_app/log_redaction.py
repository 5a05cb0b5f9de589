"""Keep secrets out of the logs, whichever library writes the line and at whatever level.

Libraries log what they send: httpx logs every request URL at INFO, and Telegram's bot token is
part of its URL path (`/bot<token>/sendMessage`); SDKs log headers at DEBUG. Every log record is
cleaned as it is made, before any handler sees it: the configured secrets (settings) and what
looks like one (bot tokens, `Bearer …`, `key=…` in a query, a password in a URL) become
`[redacted]`.

It is a record factory rather than a filter on the root logger's handlers because Reflex and
Granian add their own handlers (some on loggers that do not propagate to the root) after
CloudTrack is imported; a factory sees every record of the process, however it is handled.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "[redacted]"
# Shorter configured values are not searched for: "abc" would blank out ordinary words.
MIN_SECRET_CHARS = 6

_SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bbot\d+:[A-Za-z0-9_-]+"), f"bot{REDACTED}"),
    (re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    (re.compile(r"\b(Basic)\s+[A-Za-z0-9+/]{8,}=*"), rf"\1 {REDACTED}"),
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|apikey|key|token|access_token|secret|password|passwd)=)[^\s&\"',;]+"
        ),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(r"(?i)\b((?:x-api-key|api-key|cookie|set-cookie)[\"']?\s*[:=]\s*[\"']?)[^\"'\n,}]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE), rf"\1{REDACTED}@"),
    # Apprise URLs (notify/apprise_channel.py) carry tokens in the user part, path and query.
    (
        re.compile(
            r"(?i)\b((?:jsons?|ntfys?|gotifys?|discord|slack|pover|matrixs?)://)(?:[^\s/@]*@)?([^\s/?#]*)\S*"
        ),
        rf"\1\2/{REDACTED}",
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"\bre_[A-Za-z0-9_]{8,}"), REDACTED),
)

_FORMATTER = logging.Formatter()
_known: tuple[int, tuple[str, ...]] | None = None


def _configured_secrets() -> tuple[str, ...]:
    """The secret values of the current settings, longest first (cached per settings object)."""
    global _known
    from cloudtrack_app.settings import get_settings

    try:
        settings = get_settings()
    except Exception:
        # Settings that do not validate are reported by whoever reads them; logging goes on.
        return ()
    if _known is not None and _known[0] == id(settings):
        return _known[1]
    values = [
        settings.telegram_bot_token,
        settings.openai_api_key,
        settings.resend_api_key,
        settings.smtp_password,
        settings.scraper_api_key,
        settings.secret_key,
    ]
    key_file = settings.data_dir / "secret_key"
    complete = bool(settings.secret_key)
    if not complete and key_file.is_file():
        with contextlib.suppress(OSError):
            values.append(key_file.read_text().strip())
            complete = True
    found = tuple(sorted({v for v in values if len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True))
    if complete:  # else the key file may appear later (it is made on first use): look again
        _known = (id(settings), found)
    return found


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret in `secrets` and everything shaped like a secret replaced."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_record(record: logging.LogRecord) -> None:
    """Clean a record's message, exception text and stack in place (the message is pre-formatted)."""
    try:
        message = record.getMessage()
    except Exception:
        # A record whose arguments do not fit its format: keep the bare format string only.
        message, record.args = str(record.msg), None
    secrets = _configured_secrets()
    record.msg, record.args = redact(message, secrets), None
    if record.exc_info and not record.exc_text:
        record.exc_text = _FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text, secrets)
    if record.stack_info:
        record.stack_info = redact(record.stack_info, secrets)


def install_log_redaction() -> None:
    """Clean every log record of this process from now on (calling it again changes nothing)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_secrets", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    redacting: Callable[..., logging.LogRecord] = make_record
    redacting.redacts_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting)


def log_redaction_installed() -> bool:
    return bool(getattr(logging.getLogRecordFactory(), "redacts_secrets", False))
