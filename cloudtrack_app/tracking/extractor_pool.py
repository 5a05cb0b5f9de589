"""Reading pages in worker processes, so a check cycle parses pages on every core.

Reading a page is CPU work that holds the interpreter lock most of the time: on the event
loop it would stall every fetch, and in threads it would still use one core. A page that
crashes its reader must not take the checker down with it, so a dead worker is replaced.

The event loop feeds each worker over a pipe of its own and reads the answers back with a
pipe protocol. A ProcessPoolExecutor moves every page through two helper threads (one
pickles it into a queue, one collects results) woken with more pipes and locks; for pages
of half a megabyte at a hundred or more a second, that hand-off cost the checker about as
much CPU as fetching the page. The workers run `extractor_process.serve_pages`.

Pages wait in the pool, not in the pipes: a worker holds at most `PAGES_PER_WORKER` (the
one it reads and the next), so the page bytes go into an almost empty pipe in one write,
without a pickle or a copy into the transport's buffer, and the next free worker takes the
next page whichever worker was busier.

The web process has a pool of its own for the pages people ask for (preview, "check
now"), started by a lifespan task (`request_pool_lifespan`): read in the web process, a
hostile page would hold the interpreter and the thread pool that every request, log-in
and health check needs. Its queue is bounded, and every pool can bound the CPU a page
may take: the worker reading a page past that is ended by the kernel and replaced.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import io
import logging
import multiprocessing
import os
import pickle
import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.extract import Extraction, extract
from cloudtrack_app.tracking.extractor_process import CPU_LIMIT_SIGNAL, page_header, serve_pages

log = logging.getLogger(__name__)

EXTRACT_ATTEMPTS = 3
PAGE_PIPE_BYTES = 1024 * 1024  # the most an unprivileged process may ask for (fs.pipe-max-size)
PAGES_PER_WORKER = 2  # the page being read and the next, so a worker never waits for the event loop
_LENGTH = struct.Struct("!i")  # the frame header of multiprocessing.Connection.send_bytes/recv_bytes
EXIT_WAIT_SECONDS = 5.0
READERS_BUSY_MESSAGE = "CloudTrack is reading many pages right now. Try again in a minute."


class ExtractorDied(Exception):
    """The worker process holding a page stopped before it answered.

    `was_reading`: the page was the one being read (not one waiting behind it)."""

    def __init__(self, worker: _Worker | None = None, *, was_reading: bool = False) -> None:
        super().__init__("a page extraction worker died")
        self.worker = worker
        self.was_reading = was_reading


class PageTooSlow(Exception):
    """Reading the page took more CPU time than a page may; its worker was ended."""


class ReadersBusy(Exception):
    """The pool already holds as many pages as it may queue (`READERS_BUSY_MESSAGE` says so)."""


def _widen(connection: Connection) -> None:
    """Let a whole page fit in the pipe: with the default 64 KB a page takes eight wake-ups."""
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):
            fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PAGE_PIPE_BYTES)


def _owned_file(connection: Connection, mode: str) -> io.FileIO:
    """The pipe end as a file of its own for a transport, which closes it; the Connection goes."""
    file = io.FileIO(os.dup(connection.fileno()), mode)
    connection.close()
    return file


class _Answers(asyncio.Protocol):
    """Reads framed answers from one worker and settles its oldest waiting page with each."""

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self.buffer)
            end = _LENGTH.size + size
            if len(self.buffer) < end:
                return
            answer = pickle.loads(self.buffer[_LENGTH.size : end])
            del self.buffer[:end]
            waiting = self.worker.waiting.popleft().future
            if waiting.done():  # its check was cancelled
                continue
            if isinstance(answer, BaseException):
                waiting.set_exception(answer)
            else:
                waiting.set_result(answer)
        self.worker.pool.send_waiting_pages()

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.died()


@dataclass(eq=False)
class _Page:
    """A page to read and the future its reader awaits."""

    body: bytes
    url: str
    charset: str | None
    selectors: tuple[str, ...]
    candidates: bool | None
    future: asyncio.Future[Extraction]


class _Worker:
    """One worker process, the pipe to it and the pages it has not answered yet, in order."""

    def __init__(self, process: BaseProcess, pages: asyncio.WriteTransport, pool: ExtractorPool) -> None:
        self.process = process
        self.pages = pages
        self.pool = pool
        self.waiting: collections.deque[_Page] = collections.deque()
        self.answers: asyncio.ReadTransport | None = None

    def send(self, page: _Page) -> None:
        self.waiting.append(page)
        self.pages.write(page_header(page.url, page.charset, page.selectors, len(page.body), page.candidates))
        self.pages.write(page.body)  # bytes go straight to the pipe (written now while it has room)

    def died(self) -> None:
        if self.pool.forget(self):
            log.warning("a page extraction worker died; starting a new one")
        was_reading = True
        while self.waiting:
            waiting = self.waiting.popleft().future
            if not waiting.done():
                waiting.set_exception(ExtractorDied(self, was_reading=was_reading))
            was_reading = False

    async def exit_signal(self) -> int | None:
        """The signal that ended the process, once it has ended (None: it exited or still runs)."""
        deadline = asyncio.get_running_loop().time() + EXIT_WAIT_SECONDS
        while self.process.exitcode is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # `exitcode` polls without blocking the loop
        code = self.process.exitcode
        return -code if code is not None and code < 0 else None


class ExtractorPool:
    """Runs `extract` in `processes` worker processes, started with the first page.

    Workers are spawned, not forked: the parent runs an event loop and threads. They live
    until `close()` and serve the event loop that started them (like the Checker, whose
    loop that is). A worker that dies fails its pages, which are read again by a new one;
    a page that keeps killing workers is given up on (None) instead of being parsed in
    this process. With `processes=0` pages are read in a thread of this process.

    `cpu_seconds` bounds the CPU time of each page: its worker is ended at the limit and
    the page raises `PageTooSlow` (not read again). `max_pages` bounds the pages held at
    once, read or waiting; one more raises `ReadersBusy`.
    """

    def __init__(
        self, processes: int, *, cpu_seconds: float | None = None, max_pages: int | None = None
    ) -> None:
        self.processes = processes
        self.cpu_seconds = cpu_seconds
        self.max_pages = max_pages
        self._holding = 0
        self._workers: list[_Worker] = []
        self._starting: asyncio.Lock | None = None
        self._unsent: collections.deque[_Page] = collections.deque()
        self._replacing: asyncio.Task[None] | None = None

    def has_room(self) -> bool:
        return self.max_pages is None or self._holding < self.max_pages

    async def read(
        self,
        body: bytes,
        url: str,
        charset: str | None = None,
        selectors: Sequence[str] = (),
        candidates: bool | None = None,
    ) -> Extraction | None:
        """What `extract` says about the page (with what `selectors` read there, and
        `candidates` as `extract` takes it); None when its worker processes keep dying.

        Raises `PageTooSlow` and `ReadersBusy` (see the class). Pages travel as the bytes
        they arrived in: text would be encoded for the pipe and decoded again on both sides."""
        if not self.has_room():
            raise ReadersBusy
        self._holding += 1
        try:
            if self.processes == 0:
                return await asyncio.to_thread(extract, body, url, charset, tuple(selectors), candidates)
            return await self._read_in_workers(body, url, charset, tuple(selectors), candidates)
        finally:
            self._holding -= 1

    async def _read_in_workers(
        self,
        body: bytes,
        url: str,
        charset: str | None,
        selectors: tuple[str, ...] = (),
        candidates: bool | None = None,
    ) -> Extraction | None:
        deaths = 0
        while deaths < EXTRACT_ATTEMPTS:
            if len(self._workers) < self.processes:
                await self._start()
            future = asyncio.get_running_loop().create_future()
            page = _Page(body, url, charset, selectors, candidates, future)
            self._unsent.append(page)
            self.send_waiting_pages()
            try:
                return await page.future
            except ExtractorDied as death:
                if await self._over_cpu_limit(death):
                    log.warning(
                        "reading %s took over %s s of CPU; its worker was ended", url, self.cpu_seconds
                    )
                    raise PageTooSlow(url) from None
                # A page waiting behind the one that ended its worker is not to blame: charged
                # for that death, three hostile pages would make a good one behind them unread.
                # Every death is still charged to the page that was being read, so this ends.
                if death.was_reading:
                    deaths += 1
        log.error("page extraction workers died %d times on %s", EXTRACT_ATTEMPTS, url)
        return None

    async def _over_cpu_limit(self, death: ExtractorDied) -> bool:
        """Whether the kernel ended the worker because the page it read used up its CPU time."""
        if self.cpu_seconds is None or not death.was_reading or death.worker is None:
            return False
        return await death.worker.exit_signal() == CPU_LIMIT_SIGNAL

    def send_waiting_pages(self) -> None:
        """Give waiting pages, oldest first, to the workers with room for one."""
        while self._unsent:
            worker = min(self._workers, key=lambda w: len(w.waiting), default=None)
            if worker is None or len(worker.waiting) >= PAGES_PER_WORKER:
                return
            page = self._unsent.popleft()
            if not page.future.done():  # else its check was cancelled while it waited
                worker.send(page)

    def worker_pids(self) -> list[int]:
        """The running extractor processes (for measuring them)."""
        return sorted(w.process.pid for w in self._workers if w.process.pid is not None)

    def forget(self, worker: _Worker) -> bool:
        """Stop sending pages to `worker`; False when it was already forgotten."""
        if worker not in self._workers:
            return False
        self._workers.remove(worker)
        worker.pages.close()
        if self._unsent and self._replacing is None:
            # The dead worker's own pages start a new one when they are read again; pages still
            # waiting in the pool need one even when none of those is read again.
            self._replacing = asyncio.get_running_loop().create_task(self._replace())
        return True

    async def _replace(self) -> None:
        try:
            await self._start()
            self.send_waiting_pages()
        finally:
            self._replacing = None

    async def close(self) -> None:
        workers, self._workers = self._workers, []
        if self._replacing is not None:
            self._replacing.cancel()
        while self._unsent:
            waiting = self._unsent.popleft().future
            if not waiting.done():
                waiting.set_exception(RuntimeError("the page readers were closed before reading this page"))
        for worker in workers:
            worker.pages.close()  # the worker reads to the end of its pipe and exits
        for worker in workers:
            await asyncio.to_thread(worker.process.join)
            if worker.answers is not None:
                worker.answers.close()

    async def _start(self) -> None:
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            while len(self._workers) < self.processes:
                self._workers.append(await self._spawn())
                self.send_waiting_pages()

    async def _spawn(self) -> _Worker:
        context = multiprocessing.get_context("spawn")
        pages_in, pages_out = context.Pipe(duplex=False)
        answers_in, answers_out = context.Pipe(duplex=False)
        process = context.Process(
            target=serve_pages, args=(pages_in, answers_out, self.cpu_seconds), daemon=True
        )
        process.start()
        pages_in.close()
        answers_out.close()
        _widen(pages_out)
        loop = asyncio.get_running_loop()
        pages, _ = await loop.connect_write_pipe(asyncio.Protocol, _owned_file(pages_out, "wb"))
        worker = _Worker(process, pages, self)
        worker.answers, _ = await loop.connect_read_pipe(
            lambda: _Answers(worker), _owned_file(answers_in, "rb")
        )
        return worker


# --- the web process's pool for pages people ask for ------------------------------------

_request_pool: ExtractorPool | None = None


def use_request_pool(pool: ExtractorPool | None) -> None:
    """Make `pool` read the pages people ask for (preview, "check now") in this process."""
    global _request_pool
    _request_pool = pool


def request_pool() -> ExtractorPool | None:
    return _request_pool


def request_pool_for(settings: Settings) -> ExtractorPool:
    return ExtractorPool(
        settings.read_processes, cpu_seconds=settings.read_cpu_seconds, max_pages=settings.read_queue
    )


@asynccontextmanager
async def request_pool_lifespan() -> AsyncIterator[None]:
    """The web process's page-reader pool, for the Reflex lifespan: made in the running
    event loop of each worker process (never at import: Reflex forks workers)."""
    pool = request_pool_for(get_settings())
    use_request_pool(pool)
    try:
        yield
    finally:
        use_request_pool(None)
        await pool.close()


async def read_requested_page(
    body: bytes, url: str, charset: str | None, selectors: Sequence[str] = ()
) -> Extraction | None:
    """Read a page someone asked for, with its ranked candidates (a person sees them): in
    this process's request pool when it has one (the web app), else in a thread (the
    command line, where one person waits for one page).

    Raises `PageTooSlow` and `ReadersBusy`; None when the workers keep dying on the page."""
    pool = _request_pool
    if pool is None:
        return await asyncio.to_thread(extract, body, url, charset, tuple(selectors), candidates=True)
    return await pool.read(body, url, charset, selectors, candidates=True)
