"""How many password guesses a client gets: for log-in, and wherever the current password is asked.

Counted in three buckets, each a row of `login_throttles`:

- `pair:<client>|<account>`: one client guessing one account (LOGIN_MAX_FAILURES). A stranger's
  guesses fill the stranger's own pair only, never the owner's on another client.
- `client:<client>`: one client guessing many accounts (LOGIN_MAX_CLIENT_FAILURES, higher: an
  office behind NAT is one client).
- `account:<account>`: guesses at one account from clients that have never logged in to it
  (LOGIN_MAX_ACCOUNT_FAILURES, much higher). It bounds a guessing run spread over many
  addresses; clients that started a session (sign-up or log-in) in the last KNOWN_CLIENT_DAYS
  are exempt, so it cannot lock the owner out of their own devices.

An attempt is reserved before the password is checked: one `INSERT … ON CONFLICT DO UPDATE …
RETURNING` per bucket, all in one transaction that is rolled back when a bucket refuses. The
row lock the upsert takes (PostgreSQL) or the write lock (SQLite) makes check-and-count one
step, so concurrent guesses cannot all pass a check made before any of them was counted. A
success gives its reservation back; a failure keeps it, so it needs no second write.

The client is the address Reflex resolved (through TRUSTED_PROXY_HOPS); IPv6 clients are
counted by their /64, the block one subscriber usually gets whole.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import LoginThrottle, UTCDateTime, utcnow
from cloudtrack_app.settings import get_settings

# A client that logged in to an account within this many days is exempt from its account-wide bucket.
KNOWN_CLIENT_DAYS = 90
CLIENT_MAX_CHARS = 64
ACCOUNT_MAX_CHARS = 320
NO_CLIENT = "-"

_throttles = LoginThrottle.__table__


class ThrottledError(Exception):
    """Too many attempts: nothing was checked. `until` is when the lock ends."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"throttled until {until.isoformat()}")
        self.until = until


def client_key(client: str | None) -> str:
    """The name a client is counted under."""
    if not client or not client.strip():
        return NO_CLIENT
    text = client.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        # Not an address (a proxy that writes something else): counted as written, kept to a
        # bounded, separator-free name.
        return text.replace("|", "_")[:CLIENT_MAX_CHARS]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _at(moment: datetime | None) -> Any:
    """A timestamp inside an SQL expression, stored the way the columns store theirs."""
    return sa.null() if moment is None else sa.literal(moment, type_=UTCDateTime())


def _upsert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _pair_key(address: str, account: str) -> str:
    return f"pair:{address}|{account[:ACCOUNT_MAX_CHARS]}"


@dataclass(frozen=True)
class _Bucket:
    key: str
    limit: int


@dataclass(frozen=True)
class _Held:
    """One bucket's reservation: the window it was counted in, to give it back to the same one."""

    key: str
    limit: int
    window_start: datetime


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt. Call `succeeded()` when the password was right; a wrong one needs nothing."""

    pair_key: str
    held: tuple[_Held, ...]
    # Set when this was the last attempt a bucket allows: a failure now means this lock.
    locks_until: datetime | None

    def succeeded(self) -> None:
        now = utcnow()
        with session_scope() as db:
            conn = db.connection()
            conn.execute(
                sa.update(_throttles)
                .where(_throttles.c.key == self.pair_key)
                .values(failures=0, first_failure_at=None, locked_until=None, last_success_at=now)
            )
            for held in self.held:
                if held.key == self.pair_key:
                    continue
                conn.execute(
                    sa.update(_throttles)
                    .where(
                        _throttles.c.key == held.key,
                        _throttles.c.first_failure_at == held.window_start,
                        _throttles.c.failures > 0,
                    )
                    .values(
                        failures=_throttles.c.failures - 1,
                        locked_until=sa.case(
                            (_throttles.c.failures - 1 < held.limit, sa.null()),
                            else_=_throttles.c.locked_until,
                        ),
                    )
                )


def remember_client(account: str, client: str | None) -> None:
    """Note that `client` got into `account` (a new session): from now on the account-wide
    count of strangers' guesses does not apply to it."""
    pair_key = _pair_key(client_key(client), account)
    now = utcnow()
    with session_scope() as db:
        conn = db.connection()
        statement = _upsert(conn)(_throttles).values(key=pair_key, failures=0, last_success_at=now)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[_throttles.c.key], set_={"last_success_at": _at(now)}
            )
        )


def _reserve_in(conn: Connection, bucket: _Bucket, now: datetime, window: timedelta) -> Any:
    """Count one attempt in `bucket`; answers the row as it is afterwards."""
    t = _throttles
    lock_over = t.c.locked_until.is_(None) | (t.c.locked_until <= now)
    window_over = t.c.first_failure_at.is_(None) | (t.c.first_failure_at <= now - window)
    restart = lock_over & window_over
    counted = t.c.failures + 1
    first_lock = None if bucket.limit > 1 else now + window
    insert = _upsert(conn)(t).values(
        key=bucket.key, failures=1, first_failure_at=now, locked_until=first_lock, last_success_at=None
    )
    statement = insert.on_conflict_do_update(
        index_elements=[t.c.key],
        set_={
            "failures": sa.case((restart, 1), else_=counted),
            "first_failure_at": sa.case((restart, _at(now)), else_=t.c.first_failure_at),
            "locked_until": sa.case(
                (restart, _at(first_lock)),
                (counted == bucket.limit, _at(now + window)),
                else_=t.c.locked_until,
            ),
        },
    ).returning(t.c.failures, t.c.first_failure_at, t.c.locked_until, t.c.last_success_at)
    return conn.execute(statement).one()


def _is_known(last_success_at: datetime | None, now: datetime) -> bool:
    return last_success_at is not None and now - last_success_at <= timedelta(days=KNOWN_CLIENT_DAYS)


def reserve(account: str, client: str | None) -> Attempt:
    """Reserve one password check of `account` (a normalised e-mail) by `client`.

    Raises `ThrottledError` when a bucket is full; then nothing is counted and the password
    must not be checked.
    """
    settings = get_settings()
    window = timedelta(minutes=settings.login_lock_minutes)
    now = utcnow()
    account = account[:ACCOUNT_MAX_CHARS]
    address = client_key(client)
    pair = _Bucket(_pair_key(address, account), settings.login_max_failures)
    held: list[_Held] = []
    locks_until: datetime | None = None
    with session_scope() as db:
        conn = db.connection()

        def take(bucket: _Bucket) -> Any:
            nonlocal locks_until
            row = _reserve_in(conn, bucket, now, window)
            if row.failures > bucket.limit:
                # Raising inside the scope rolls back every bucket counted for this attempt.
                raise ThrottledError(row.locked_until or now + window)
            if row.failures == bucket.limit:
                locks_until = max(filter(None, (locks_until, row.locked_until)), default=None)
            held.append(_Held(bucket.key, bucket.limit, row.first_failure_at))
            return row

        pair_row = take(pair)
        if address != NO_CLIENT:
            take(_Bucket(f"client:{address}", settings.login_max_client_failures))
        if not _is_known(pair_row.last_success_at, now):
            take(_Bucket(f"account:{account}", settings.login_max_account_failures))
    return Attempt(pair_key=pair.key, held=tuple(held), locks_until=locks_until)


def prune(*, now: datetime | None = None) -> int:
    """Delete the rows that no longer hold anything: no lock, no failure inside the window and
    no log-in recent enough to exempt the client. Answers how many.

    Such a row acts exactly as a missing one: the next attempt starts its count afresh.
    """
    now = now or utcnow()
    window = timedelta(minutes=get_settings().login_lock_minutes)
    t = _throttles
    with session_scope() as db:
        result = db.connection().execute(
            sa.delete(t).where(
                t.c.locked_until.is_(None) | (t.c.locked_until <= now),
                t.c.first_failure_at.is_(None) | (t.c.first_failure_at <= now - window),
                t.c.last_success_at.is_(None)
                | (t.c.last_success_at < now - timedelta(days=KNOWN_CLIENT_DAYS)),
            )
        )
        return result.rowcount or 0


def minutes_left(until: datetime) -> int:
    return max(1, int((until - utcnow()).total_seconds() + 59) // 60)
