"""Counting actions per key in a fixed window, so one client or person cannot flood others.

Sign-ups per client address, links mailed per person, test alerts per person: each key
has one row, and one `UPDATE … RETURNING` both counts the action and reads the count, so
concurrent requests on SQLite or PostgreSQL can never all slip under the limit together.

No window is longer than `LONGEST_WINDOW`, so a row whose window began before that counts
nothing any more and `prune` may delete it: the next action starts a new row, as it would
have restarted the old one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import RateLimit, UTCDateTime, utcnow

KEY_MAX_CHARS = 400
LONGEST_WINDOW = timedelta(days=1)


def hit(key: str, limit: int, window: timedelta, *, now: datetime | None = None) -> timedelta | None:
    """Count one action under `key`: None when it is allowed, else how long until it would be."""
    if window > LONGEST_WINDOW:
        raise ValueError(f"A rate-limit window is at most {LONGEST_WINDOW} (pruning relies on it).")
    now = now or utcnow()
    key = key[:KEY_MAX_CHARS]
    with session_scope() as db:
        insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
        db.execute(
            insert(RateLimit)
            .values(key=key, window_started_at=now, count=0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        expired = RateLimit.window_started_at <= now - window
        count, started = db.execute(
            sa.update(RateLimit)
            .where(RateLimit.key == key)  # type: ignore[arg-type]
            .values(
                count=sa.case((expired, 1), else_=RateLimit.count + 1),
                window_started_at=sa.case(
                    (expired, sa.literal(now, UTCDateTime)), else_=RateLimit.window_started_at
                ),
            )
            .returning(RateLimit.count, RateLimit.window_started_at)
        ).one()
    if count <= limit:
        return None
    return max(timedelta(seconds=1), started + window - now)


def prune(*, now: datetime | None = None) -> int:
    """Delete the rows whose window is over whatever its length; answers how many."""
    cutoff = (now or utcnow()) - LONGEST_WINDOW
    with session_scope() as db:
        result = db.execute(sa.delete(RateLimit).where(RateLimit.window_started_at <= cutoff))  # type: ignore[arg-type]
        return result.rowcount or 0


def wait_words(wait: timedelta) -> str:
    """`in 1 minute`, `in 14 minutes`, `in 2 hours`: how a refusal says when to come back."""
    minutes = max(1, int(wait.total_seconds() + 59) // 60)
    if minutes > 90:
        hours = (minutes + 59) // 60
        return f"in {hours} hours"
    return f"in {minutes} minute" + ("" if minutes == 1 else "s")
