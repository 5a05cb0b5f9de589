"""E-mail over SMTP (issue 12 §2): the same mail as through Resend, against a real local SMTP server.

The server is aiosmtpd on loopback; it records every message it takes and can be told to
refuse an address (5xx, permanent) or defer a message (4xx, retried). A server that is down
is a port nothing listens on.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cloudtrack_app.auth import accounts, verification
from cloudtrack_app.models import utcnow
from cloudtrack_app.notify.dispatch import dispatch_pending
from cloudtrack_app.settings import get_settings
from cloudtrack_app.states.notifications import NotificationsState
from tests.notify_fixtures import (
    PUBLIC_URL,
    configure,
    load_event,
    load_user,
    make_event,
    make_user,
    make_watch,
)
from tests.state_fixtures import run_handler
from tests.state_fixtures import state_for as reflex_state

SENDER = "CloudTrack <alerts@cloudtrack.example>"


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    """What a mail server does with each message: take it, refuse an address, or defer it."""

    received: list[Received] = field(default_factory=list)
    deferred: list[Received] = field(default_factory=list)
    refuse_addresses: set[str] = field(default_factory=set)
    defer_next: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse_addresses:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        got = Received(list(envelope.rcpt_tos), message)
        if self.defer_next:
            self.defer_next -= 1
            self.deferred.append(got)
            return "451 4.3.0 Try again later"
        self.received.append(got)
        return "250 OK"


@pytest.fixture
def mail_server() -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def use_smtp(monkeypatch: pytest.MonkeyPatch, port: int, **overrides: str) -> None:
    settings = {
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_CA_FILE": "",
        "RESEND_API_KEY": "",
        "TELEGRAM_BOT_TOKEN": "",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "EMAIL_FROM": SENDER,
        "PUBLIC_URL": PUBLIC_URL,
        "SECRET_KEY": "test-secret-key-for-smtp",
        "NOTIFY_SEND_TIMEOUT": "5",
    }
    configure(monkeypatch, **(settings | overrides))


@pytest.fixture
def smtp(
    db_url: str, mail_server: tuple[RecordingHandler, int], monkeypatch: pytest.MonkeyPatch
) -> Iterator[RecordingHandler]:
    handler, port = mail_server
    use_smtp(monkeypatch, port)
    yield handler
    get_settings.cache_clear()


def one_alert(email: str = "alex@example.com") -> tuple[int, int]:
    user = make_user(email, ai_text=False)
    product, watch = make_watch(user.id)  # type: ignore[arg-type]
    return user.id, make_event(user.id, product, watch)  # type: ignore[arg-type]


async def test_an_alert_over_smtp_has_both_parts_its_headers_and_one_click_unsubscribe(
    smtp: RecordingHandler,
) -> None:
    _, event_id = one_alert()

    report = await dispatch_pending()

    assert report.sent == 1
    [got] = smtp.received
    assert got.recipients == ["alex@example.com"]
    mail = got.message
    assert mail["From"] == SENDER and mail["To"] == "alex@example.com"
    event, [delivery] = load_event(event_id)
    assert mail["Subject"] == event.subject
    assert mail["Message-ID"] == delivery.provider_id
    assert re.fullmatch(r"<cloudtrack-\d+-email-[0-9a-f]+@cloudtrack\.example>", mail["Message-ID"])
    unsubscribe = mail["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{PUBLIC_URL}/") and unsubscribe.endswith(">")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "Acme Coffee Grinder" in text.get_content()
    assert "Turn off alerts for this product: " + unsubscribe[1:-1] in text.get_content()
    assert "<h1" in html.get_content() and "Acme Coffee Grinder" in html.get_content()
    assert (delivery.status, load_user(event.user_id).email_channel_error) == ("sent", None)


async def test_an_address_the_mail_server_refuses_is_a_permanent_failure_shown_in_settings(
    smtp: RecordingHandler,
) -> None:
    smtp.refuse_addresses.add("gone@example.com")
    user_id, event_id = one_alert("gone@example.com")
    now = utcnow()

    report = await dispatch_pending(now)

    assert (report.failed, report.retrying) == (1, 0)
    event, [delivery] = load_event(event_id)
    assert (event.status, delivery.status, delivery.attempts) == ("failed", "failed", 1)
    assert load_user(user_id).email_channel_error == (
        "The mail server refused the address (550): 5.1.1 No such mailbox here"
    )
    assert (await dispatch_pending(now + timedelta(days=1))).claimed == 0
    assert smtp.received == []


async def test_a_deferred_mail_is_retried_with_the_same_message_id(smtp: RecordingHandler) -> None:
    smtp.defer_next = 1
    _, event_id = one_alert()
    now = utcnow()

    first = await dispatch_pending(now)

    assert first.retrying == 1
    _, [delivery] = load_event(event_id)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.error == "The mail server deferred the e-mail (451): 4.3.0 Try again later"
    assert delivery.next_attempt_at == now + timedelta(seconds=30)

    later = await dispatch_pending(now + timedelta(seconds=31))

    assert later.sent == 1
    [deferred], [received] = smtp.deferred, smtp.received
    assert received.message["Message-ID"] == deferred.message["Message-ID"]
    assert received.message["Subject"] == deferred.message["Subject"]


async def test_a_mail_server_that_is_down_is_retried_and_the_alert_arrives_once_it_is_up(
    db_url: str, mail_server: tuple[RecordingHandler, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = mail_server
    use_smtp(monkeypatch, free_port())
    user_id, event_id = one_alert()
    now = utcnow()

    first = await dispatch_pending(now)

    assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
    event, [delivery] = load_event(event_id)
    assert (event.status, delivery.status, delivery.attempts) == ("pending", "pending", 1)
    assert delivery.error and delivery.error.startswith("The mail server cannot be reached")
    assert load_user(user_id).email_channel_error is None  # not the person's problem (yet)

    use_smtp(monkeypatch, port)  # the server is back
    later = await dispatch_pending(now + timedelta(seconds=31))

    assert later.sent == 1 and len(handler.received) == 1
    get_settings.cache_clear()


async def test_the_sign_up_link_goes_out_over_smtp(
    sqlite_url: str, mail_server: tuple[RecordingHandler, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = mail_server
    use_smtp(monkeypatch, port)
    # A first account, so the next sign-up needs its link.
    await verification.request_signup("first@example.com", "correct horse battery", "First", "203.0.113.1")
    assert verification.mail_configured(get_settings())

    await verification.request_signup("new@example.com", "correct horse battery", "Newton", "203.0.113.1")

    [got] = [r for r in handler.received if r.recipients == ["new@example.com"]]
    text = got.message.get_body(("plain",))
    html = got.message.get_body(("html",))
    assert text is not None and html is not None
    link = re.search(re.escape(PUBLIC_URL) + r"/verify\?token=[A-Za-z0-9_\-]+", text.get_content())
    assert link and link.group(0) in html.get_content()
    assert got.message["Subject"] == "Confirm your e-mail address for CloudTrack"
    get_settings.cache_clear()


def test_without_an_smtp_host_mail_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, EMAIL_BACKEND="smtp", SMTP_HOST="", RESEND_API_KEY="re_present_but_unused")
    assert not get_settings().mail_configured
    configure(monkeypatch, EMAIL_BACKEND="resend", SMTP_HOST="mail.example.com", RESEND_API_KEY="")
    assert not get_settings().mail_configured
    configure(
        monkeypatch, EMAIL_BACKEND="smtp", SMTP_HOST="mail.example.com", SMTP_SECURITY="tls", SMTP_PORT="0"
    )
    assert get_settings().mail_configured and get_settings().effective_smtp_port == 465
    get_settings.cache_clear()


async def test_a_new_alert_address_saved_in_settings_gets_its_link_over_smtp(
    sqlite_url: str, mail_server: tuple[RecordingHandler, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = mail_server
    use_smtp(monkeypatch, port)
    user = make_user("alex@example.com")
    state = reflex_state(NotificationsState, accounts.start_session(user.id))  # type: ignore[arg-type]
    await run_handler(state, "load_notifications")

    await run_handler(state, "save_notifications", {"alert_email": "alerts@example.org"})

    assert state.notify_error == ""
    assert "E-mail alerts go there once you do." in state.notify_message
    [got] = [r for r in handler.received if r.recipients == ["alerts@example.org"]]
    assert got.message["Subject"] == "Confirm your e-mail address for CloudTrack"
    get_settings.cache_clear()


# --- TLS: STARTTLS and TLS from the start, with a certificate made for the test -------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed(folder: Path, name: str, alt_names: str) -> Certificate:
    """A self-signed certificate made by the openssl command, valid for `alt_names`."""
    made = Certificate(folder / f"{name}.pem", folder / f"{name}.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(made.key), "-out", str(made.cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName={alt_names}"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return made


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Certificate]:
    folder = tmp_path_factory.mktemp("smtp-tls")
    return {
        "this server": self_signed(folder, "localhost", "IP:127.0.0.1,DNS:localhost"),
        "another host": self_signed(folder, "mail.example", "DNS:mail.example"),
    }


@contextmanager
def tls_mail_server(security: str, certificate: Certificate) -> Iterator[tuple[RecordingHandler, int]]:
    """A mail server that speaks only TLS: from the start (`tls`), or after STARTTLS, refusing
    mail before it (`starttls`), so whatever it takes came over TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    options: dict[str, Any] = (
        {"ssl_context": context} if security == "tls" else {"tls_context": context, "require_starttls": True}
    )
    handler, port = RecordingHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_an_alert_goes_over_tls_to_a_server_whose_certificate_is_trusted(
    sqlite_url: str, certificates: dict[str, Certificate], monkeypatch: pytest.MonkeyPatch, security: str
) -> None:
    trusted = certificates["this server"]
    with tls_mail_server(security, trusted) as (handler, port):
        use_smtp(monkeypatch, port, SMTP_SECURITY=security, SMTP_CA_FILE=str(trusted.cert))
        _, event_id = one_alert()

        report = await dispatch_pending()

    assert report.sent == 1
    [got] = handler.received
    event, [delivery] = load_event(event_id)
    assert got.recipients == ["alex@example.com"] and got.message["Subject"] == event.subject
    assert got.message["Message-ID"] == delivery.provider_id
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("security", "served", "ca_file", "reason"),
    [
        ("starttls", "this server", False, "self-signed certificate"),
        ("tls", "this server", False, "self-signed certificate"),
        ("starttls", "another host", True, "IP address mismatch, certificate is not valid for '127.0.0.1'"),
        ("tls", "another host", True, "IP address mismatch, certificate is not valid for '127.0.0.1'"),
    ],
)
async def test_a_certificate_that_does_not_verify_is_a_permanent_failure_shown_in_settings(
    sqlite_url: str,
    certificates: dict[str, Certificate],
    monkeypatch: pytest.MonkeyPatch,
    security: str,
    served: str,
    ca_file: bool,
    reason: str,
) -> None:
    certificate = certificates[served]
    with tls_mail_server(security, certificate) as (handler, port):
        use_smtp(
            monkeypatch, port, SMTP_SECURITY=security, SMTP_CA_FILE=str(certificate.cert) if ca_file else ""
        )
        user_id, event_id = one_alert()

        report = await dispatch_pending()

    assert (report.sent, report.failed, report.retrying) == (0, 1, 0)
    event, [delivery] = load_event(event_id)
    assert (event.status, delivery.status, delivery.attempts) == ("failed", "failed", 1)
    assert load_user(user_id).email_channel_error == (
        f"The mail server's TLS certificate could not be verified ({reason}); ask the administrator."
    )
    assert handler.received == []
    get_settings.cache_clear()
