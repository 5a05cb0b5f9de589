"""How many pages one person may have read for them: at once, and per minute.

A preview or a "check now" costs the server a fetch and up to a few seconds of CPU, so one
person (or one script with a session) must not be able to keep the page readers busy for
everyone else. The counts live in this process: with several web workers each keeps its
own, so a person can get at most that many times the limit, which still leaves the
bounded reader pools of the other workers to everybody else.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from cloudtrack_app.settings import get_settings

SLOW_DOWN_AT_ONCE = "CloudTrack is already reading {count} pages for you. Wait until they are done."
SLOW_DOWN_PER_MINUTE = "You have read many pages in the last minute. Slow down and try again in {seconds} s."


class SlowDown(Exception):
    """A person asked for more reads than they may; `message` says how long to wait."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserReadLimiter:
    """At most `at_once` reads per person at a time and `per_minute` started in any minute.

    Used from one event loop: taking and giving back a slot never awaits, so no lock."""

    def __init__(self, at_once: int, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.at_once = at_once
        self.per_minute = per_minute
        self.clock = clock
        self._running: defaultdict[int, int] = defaultdict(int)
        self._started: defaultdict[int, deque[float]] = defaultdict(deque)

    @contextmanager
    def slot(self, user_id: int) -> Iterator[None]:
        """Hold one of the person's reads for the block; raises `SlowDown` when none is free."""
        now = self.clock()
        started = self._started[user_id]
        while started and started[0] <= now - 60:
            started.popleft()
        if self._running[user_id] >= self.at_once:
            raise SlowDown(SLOW_DOWN_AT_ONCE.format(count=self._running[user_id]))
        if len(started) >= self.per_minute:
            wait = max(1, round(started[0] + 60 - now))
            raise SlowDown(SLOW_DOWN_PER_MINUTE.format(seconds=wait))
        started.append(now)
        self._running[user_id] += 1
        try:
            yield
        finally:
            self._running[user_id] -= 1
            if not self._running[user_id]:
                del self._running[user_id]


@cache
def page_read_limiter() -> UserReadLimiter:
    """This process's limiter, shared by preview and "check now" (sized by the settings)."""
    settings = get_settings()
    return UserReadLimiter(settings.user_reads_at_once, settings.user_reads_per_minute)
