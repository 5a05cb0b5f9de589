"""The backend's background work, for the Reflex lifespan: the check scheduler, the alert
dispatcher and the pruning of spent rate-limit and log-in counters (jobs on the same
scheduler), Telegram updates (long polling or webhook set-up)
and imports of lists of links (people start those, so they run even without the scheduler).

Everything is created inside the running event loop, once per worker process: Reflex forks
workers, and the database leases keep them from doing the same work twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cloudtrack_app import rate_limits
from cloudtrack_app.auth import throttle
from cloudtrack_app.notify.dispatch import dispatch_pending
from cloudtrack_app.notify.telegram import run_telegram
from cloudtrack_app.settings import get_settings
from cloudtrack_app.tracking.imports import ImportRunner
from cloudtrack_app.tracking.scheduler import scheduler_lifespan

log = logging.getLogger(__name__)
DISPATCH_JOB_ID = "cloudtrack-alert-dispatch"
PRUNE_JOB_ID = "cloudtrack-prune-counters"
PRUNE_SECONDS = 3600


async def _dispatch() -> None:
    try:
        await dispatch_pending()
    except Exception:
        # A failed run leaves its claims to expire; the next run retries them.
        log.exception("alert dispatch failed")


def prune_counters() -> int:
    """Delete the rate-limit and log-in counters that no longer count anything; answers how many."""
    return rate_limits.prune() + throttle.prune()


async def _prune() -> None:
    try:
        pruned = await asyncio.to_thread(prune_counters)
    except Exception:
        # Spent counters only take room; the next run deletes them.
        log.exception("pruning spent counters failed")
        return
    if pruned:
        log.info("pruned %d spent rate-limit and log-in counters", pruned)


@asynccontextmanager
async def background_services() -> AsyncIterator[None]:
    settings = get_settings()
    stop = asyncio.Event()
    imports_task = asyncio.create_task(ImportRunner(settings).run(stop), name="cloudtrack-imports")
    async with scheduler_lifespan(settings) as scheduler:
        telegram_task: asyncio.Task[None] | None = None
        if scheduler is not None:
            scheduler.add_interval_job(_dispatch, settings.notify_dispatch_seconds, DISPATCH_JOB_ID)
            scheduler.add_interval_job(_prune, PRUNE_SECONDS, PRUNE_JOB_ID)
            if settings.telegram_bot_token:
                telegram_task = asyncio.create_task(
                    run_telegram(stop, settings=settings), name="cloudtrack-telegram"
                )
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(imports_task, timeout=10)
            if telegram_task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(telegram_task, timeout=10)
