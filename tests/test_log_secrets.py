"""No secret reaches the logs, at any level, whichever library writes the line.

The test logs everything at DEBUG while CloudTrack does what touches secrets: an alert through
Resend, Telegram and the model (each a local stub behind the real SDK), and a log-in.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudtrack_app.auth.accounts import AccountError, authenticate, start_session, user_for_token
from cloudtrack_app.log_redaction import REDACTED, log_redaction_installed, redact
from cloudtrack_app.notify.dispatch import dispatch_pending
from cloudtrack_app.settings import get_settings
from tests.notify_fixtures import Stubs, make_event, make_user, make_watch
from tests.notify_fixtures import stubs_fixture as stubs_fixture
from tests.stubs import RESEND_TEST_KEY, TELEGRAM_TEST_TOKEN, ModelReply

PASSWORD = "correct horse battery"  # make_user's


@pytest.fixture
def everything_logged() -> Iterator[io.StringIO]:
    """All log output of the process at DEBUG, as a handler on the root logger would write it."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield output
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


async def test_sending_alerts_and_logging_in_log_no_secret_at_debug(
    stubs: Stubs, everything_logged: io.StringIO
) -> None:
    user = make_user(telegram_chat_id=4242, ai_text=True)
    product, watch = make_watch(user.id)
    stubs.openai.reply(ModelReply.json("A better price", "The grinder is cheaper now."))
    make_event(user.id, product, watch)
    await dispatch_pending()
    assert stubs.resend.emails and stubs.telegram.messages_to(4242) and stubs.openai.requests

    with pytest.raises(AccountError):
        authenticate(user.email, "not the password", client="203.0.113.9")
    signed_in = authenticate(user.email, PASSWORD, client="203.0.113.9")
    session_token = start_session(signed_in.id, client_ip="203.0.113.9", user_agent="pytest")
    assert user_for_token(session_token) is not None

    logged = everything_logged.getvalue()
    assert "sendMessage" in logged and "/emails" in logged  # the requests were logged, without secrets
    for secret in (
        TELEGRAM_TEST_TOKEN,
        TELEGRAM_TEST_TOKEN.split(":", 1)[1],
        RESEND_TEST_KEY,
        "sk-test",
        "test-secret-key-for-notify",
        PASSWORD,
        "not the password",
        session_token,
    ):
        assert secret not in logged


def test_secret_shapes_are_redacted_even_when_not_configured() -> None:
    assert redact("POST https://api.telegram.org/bot987654:AAH-x_y/sendMessage") == (
        f"POST https://api.telegram.org/bot{REDACTED}/sendMessage"
    )
    assert redact("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {REDACTED}"
    assert redact("GET https://scraper.example/?api_key=s3cr3t&url=x") == (
        f"GET https://scraper.example/?api_key={REDACTED}&url=x"
    )
    assert redact("postgresql://cloudtrack:pa55word@db/cloudtrack") == (
        f"postgresql://cloudtrack:{REDACTED}@db/cloudtrack"
    )
    assert redact("checked 12 products in 3.2 s") == "checked 12 products in 3.2 s"


def test_every_process_that_imports_cloudtrack_redacts_its_logs() -> None:
    assert log_redaction_installed()


def test_the_generated_secret_key_is_redacted_once_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, everything_logged: io.StringIO
) -> None:
    monkeypatch.setenv("CLOUDTRACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SECRET_KEY", "")
    get_settings.cache_clear()
    log = logging.getLogger("cloudtrack.test")
    log.info("starting before any key exists")
    key = get_settings().effective_secret_key
    log.warning("signing with %s", key)
    get_settings.cache_clear()
    assert key not in everything_logged.getvalue()
    assert f"signing with {REDACTED}" in everything_logged.getvalue()


def test_settings_that_do_not_validate_do_not_stop_logging(
    monkeypatch: pytest.MonkeyPatch, everything_logged: io.StringIO
) -> None:
    monkeypatch.setenv("CHECK_INTERVAL", "5")
    get_settings.cache_clear()
    logging.getLogger("cloudtrack.test").error("still logged")
    get_settings.cache_clear()
    assert "still logged" in everything_logged.getvalue()
