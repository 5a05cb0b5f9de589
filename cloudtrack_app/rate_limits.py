"""Counting actions per key in a fixed window, so one client or person cannot flood others.

Sign-ups per client address, links mailed per person, test alerts per person: each key
has one row, and one `UPDATE … RETURNING` both counts the action and reads the count, so
concurrent requests on SQLite or PostgreSQL can never all slip under the limit together.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cloudtrack_app.db import session_scope
from cloudtrack_app.models import RateLimit, UTCDateTime, utcnow

KEY_MAX_CHARS = 400


def hit(key: str, limit: int, window: timedelta, *, now: datetime | None = None) -> timedelta | None:
    """Count one action under `key`: None when it is allowed, else how long until it would be."""
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


def wait_words(wait: timedelta) -> str:
    """`in 1 minute`, `in 14 minutes`, `in 2 hours`: how a refusal says when to come back."""
    minutes = max(1, int(wait.total_seconds() + 59) // 60)
    if minutes > 90:
        hours = (minutes + 59) // 60
        return f"in {hours} hours"
    return f"in {minutes} minute" + ("" if minutes == 1 else "s")
