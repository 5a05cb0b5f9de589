"""Per-shop politeness inside one process: concurrency, spacing, and a pause for shops that are down."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

TRIP_AFTER_FAILURES = 3
FIRST_PAUSE_SECONDS = 60.0
MAX_PAUSE_SECONDS = 3600.0


class ShopGate:
    """At most `concurrency` requests at once per shop, starting at least `delay` seconds apart.

    After `trip_after` transient failures in a row a shop is paused (60 s, doubling up to an
    hour while it stays down), so its remaining products are deferred instead of each
    waiting out a timeout against a shop that is down.
    """

    def __init__(self, concurrency: int, delay: float, *, trip_after: int = TRIP_AFTER_FAILURES) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self.trip_after = trip_after
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._spacing: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._next_start: dict[str, float] = {}
        self._failures: dict[str, int] = defaultdict(int)
        self._trips: dict[str, int] = defaultdict(int)
        self._paused_until: dict[str, float] = {}

    def pause_remaining(self, shop: str) -> float:
        """Seconds until the shop may be tried again (0 when it is not paused)."""
        return max(0.0, self._paused_until.get(shop, 0.0) - time.monotonic())

    @asynccontextmanager
    async def slot(self, shop: str) -> AsyncIterator[None]:
        semaphore = self._slots.get(shop)
        if semaphore is None:
            semaphore = self._slots[shop] = asyncio.Semaphore(self.concurrency)
        async with semaphore:
            if self.delay:
                async with self._spacing[shop]:
                    wait = self._next_start.get(shop, 0.0) - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    self._next_start[shop] = time.monotonic() + self.delay
            yield

    def succeeded(self, shop: str) -> None:
        self._failures.pop(shop, None)
        self._trips.pop(shop, None)
        self._paused_until.pop(shop, None)

    def failed(self, shop: str, *, transient: bool) -> None:
        if not transient:
            return
        self._failures[shop] += 1
        if self._failures[shop] >= self.trip_after:
            self._failures[shop] = 0
            pause = min(MAX_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2 ** self._trips[shop])
            self._trips[shop] += 1
            self._paused_until[shop] = time.monotonic() + pause
