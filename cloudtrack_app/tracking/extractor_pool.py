"""Reading pages in worker processes, so a check cycle parses pages on every core.

Reading a page is CPU work that holds the interpreter lock most of the time: on the event
loop it would stall every fetch, and in threads it would still use one core. A page that
crashes its reader must not take the checker down with it, so a dead worker is replaced.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cloudtrack_app.tracking.extract import Extraction, extract

log = logging.getLogger(__name__)

EXTRACT_ATTEMPTS = 3


class ExtractorPool:
    """Runs `extract` in a pool of worker processes.

    The pool starts with the first page and lives until `close()`. Workers are spawned,
    not forked: the parent runs an event loop and threads. A worker that dies breaks
    the pool; its pages are read again in a new one, and a page that keeps killing
    workers is given up on (None) instead of being parsed in this process.
    With `processes=0` pages are read in a thread of this process.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    async def read(self, body: bytes, url: str, charset: str | None = None) -> Extraction | None:
        """What `extract` says about the page; None when its worker processes keep dying.

        Pages travel as the bytes they arrived in: text would be encoded for the pipe and
        decoded again on both sides."""
        if self.processes == 0:
            return await asyncio.to_thread(extract, body, url, charset)
        loop = asyncio.get_running_loop()
        for _ in range(EXTRACT_ATTEMPTS):
            pool = self._pool or self._start()
            try:
                return await loop.run_in_executor(pool, extract, body, url, charset)
            except BrokenProcessPool:
                self._discard(pool)
        log.error("page extraction workers died %d times on %s", EXTRACT_ATTEMPTS, url)
        return None

    def worker_pids(self) -> list[int]:
        """The running extractor processes (for measuring them); the executor keeps no public list."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            log.warning("a page extraction worker died; starting new ones")
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
