"""Spent rate-limit and log-in counters are deleted by the scheduler's hourly job, and deleting
them changes no answer: a live limit, a lock and a known client all survive it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cloudtrack_app import rate_limits
from cloudtrack_app.auth import throttle
from cloudtrack_app.background import prune_counters
from cloudtrack_app.db import session_scope
from cloudtrack_app.models import LoginThrottle, RateLimit, utcnow
from cloudtrack_app.settings import get_settings

HOUR = timedelta(hours=1)
OWNER = "owner@example.com"
OWNER_CLIENT = "198.51.100.23"
STRANGER_CLIENT = "203.0.113.66"


def rate_keys() -> set[str]:
    with session_scope() as db:
        return set(db.exec(select(RateLimit.key)).all())


def throttle_keys() -> set[str]:
    with session_scope() as db:
        return set(db.exec(select(LoginThrottle.key)).all())


def test_rate_limit_rows_go_once_no_window_can_still_count_them(db_url: str) -> None:
    now = utcnow()
    rate_limits.hit("test-alert:1", 1, HOUR, now=now - timedelta(days=2))
    rate_limits.hit("signup-client:203.0.113.5", 1, HOUR, now=now - timedelta(minutes=5))
    assert rate_limits.hit("signup-client:203.0.113.5", 1, HOUR, now=now) is not None

    assert prune_counters() == 1

    assert rate_keys() == {"signup-client:203.0.113.5"}
    # The limit that was reached still holds...
    assert rate_limits.hit("signup-client:203.0.113.5", 1, HOUR, now=now) is not None
    # ...and the pruned key starts afresh, as its old row would have.
    assert rate_limits.hit("test-alert:1", 1, HOUR, now=now) is None


def test_a_window_longer_than_pruning_keeps_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="at most"):
        rate_limits.hit("first-account", 1, rate_limits.LONGEST_WINDOW + timedelta(seconds=1))


def test_log_in_counters_go_when_no_lock_failure_or_recent_log_in_is_left(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGIN_MAX_FAILURES", "2")
    get_settings.cache_clear()
    throttle.remember_client(OWNER, OWNER_CLIENT)
    for _ in range(2):
        throttle.reserve(OWNER, STRANGER_CLIENT)  # two wrong guesses: the stranger is locked
    owner_row = f"pair:{OWNER_CLIENT}|{OWNER}"
    now = utcnow()

    assert throttle.prune(now=now) == 0
    with pytest.raises(throttle.ThrottledError):
        throttle.reserve(OWNER, STRANGER_CLIENT)

    assert throttle.prune(now=now + timedelta(minutes=16)) == 3
    assert throttle_keys() == {owner_row}

    assert throttle.prune(now=now + timedelta(days=throttle.KNOWN_CLIENT_DAYS - 1)) == 0
    assert throttle.prune(now=now + timedelta(days=throttle.KNOWN_CLIENT_DAYS + 1)) == 1
    assert throttle_keys() == set()
