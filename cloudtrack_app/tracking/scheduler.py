"""The check scheduler: an APScheduler tick that runs check cycles in the backend process.

Every worker process runs one (Reflex starts a lifespan task per worker); the database
leases decide who checks what. The scheduler, the checker and its HTTP clients are made
inside the running event loop, never at import, because Reflex forks workers.

On shutdown (SIGTERM runs the lifespan's exit) no new products are claimed, the ones
already claimed are finished and written within a grace period, and anything still
running after it is cancelled: its leases expire and another worker checks those
products, so no work is lost.

Reflex wiring: `app.register_lifespan_task(scheduler_lifespan)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.checker import Checker, CycleReport, use_checker
from cloudtrack_app.tracking.fetch import close_clients

log = logging.getLogger(__name__)

JOB_ID = "cloudtrack-check-cycle"


class CheckScheduler:
    """Starts a check cycle every `TICK_SECONDS` unless one is still running."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.checker: Checker | None = None
        self.last_report: CycleReport | None = None
        self.cycles = 0
        self._scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._cycle: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.checker = Checker(self.settings)
        use_checker(self.checker)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.settings.tick_seconds,
            id=JOB_ID,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler.start()
        log.info("check scheduler started as %s", self.checker.owner)

    def add_interval_job(self, func: Callable[[], Awaitable[object]], seconds: float, job_id: str) -> None:
        """Run another periodic job (e.g. the alert dispatcher) on this scheduler."""
        assert self._scheduler is not None, "start() the scheduler first"
        self._scheduler.add_job(
            func,
            "interval",
            seconds=seconds,
            id=job_id,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    async def _tick(self) -> None:
        # The cycle runs in a task of our own: APScheduler cancels its running jobs on
        # shutdown, and a cycle must be allowed to finish what it claimed.
        if self._stop.is_set() or (self._cycle is not None and not self._cycle.done()):
            return
        self._cycle = asyncio.create_task(self._run_cycle(), name="cloudtrack-check-cycle")

    async def _run_cycle(self) -> None:
        assert self.checker is not None
        try:
            report = await self.checker.run_cycle(self._stop)
        except Exception:
            log.exception("check cycle failed; its leases expire and the products are retried")
            return
        self.cycles += 1
        self.last_report = report
        if report.checked or report.statuses:
            log.info("check cycle: %s, %d alerts", dict(report.statuses), report.alerts)

    async def run_cycle_now(self) -> None:
        """Start a cycle at once (if none is running) and wait for it."""
        await self._tick()
        if self._cycle is not None:
            await asyncio.shield(self._cycle)

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop claiming, let the running cycle finish its claimed products, then close."""
        self._stop.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        grace = self.settings.fetch_total_timeout + 5 if grace_seconds is None else grace_seconds
        cycle = self._cycle
        if cycle is not None and not cycle.done():
            try:
                await asyncio.wait_for(asyncio.shield(cycle), grace)
            except TimeoutError:
                log.warning("check cycle still running after %.0f s; leaving its leases to expire", grace)
                cycle.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cycle
        use_checker(None)
        if self.checker is not None:
            await self.checker.close()
        await close_clients()


@asynccontextmanager
async def scheduler_lifespan(settings: Settings | None = None) -> AsyncIterator[CheckScheduler | None]:
    """Run the check scheduler for the lifetime of the block (nothing if SCHEDULER_ENABLED=false)."""
    settings = settings or get_settings()
    if not settings.scheduler_enabled:
        yield None
        return
    scheduler = CheckScheduler(settings)
    await scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.stop()


async def run_scheduler(stop: asyncio.Event | None = None, *, settings: Settings | None = None) -> None:
    """Run the scheduler until `stop` is set (or the task is cancelled)."""
    async with scheduler_lifespan(settings):
        await (stop or asyncio.Event()).wait()
