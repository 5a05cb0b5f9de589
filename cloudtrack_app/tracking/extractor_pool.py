"""Reading pages in worker processes, so a check cycle parses pages on every core.

Reading a page is CPU work that holds the interpreter lock most of the time: on the event
loop it would stall every fetch, and in threads it would still use one core. A page that
crashes its reader must not take the checker down with it, so a dead worker is replaced.

The event loop feeds each worker over a pipe of its own and reads the answers back with a
pipe protocol. A ProcessPoolExecutor moves every page through two helper threads (one
pickles it into a queue, one collects results) woken with more pipes and locks; for pages
of half a megabyte at a hundred or more a second, that hand-off cost the checker about as
much CPU as fetching the page. The workers run `extractor_process.serve_pages`.
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
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from cloudtrack_app.tracking.extract import Extraction, extract
from cloudtrack_app.tracking.extractor_process import serve_pages

log = logging.getLogger(__name__)

EXTRACT_ATTEMPTS = 3
PAGE_PIPE_BYTES = 1024 * 1024  # the most an unprivileged process may ask for (fs.pipe-max-size)
_LENGTH = struct.Struct("!i")  # the frame header of multiprocessing.Connection.send_bytes/recv_bytes


class ExtractorDied(Exception):
    """The worker process holding a page stopped before it answered."""


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
            waiting = self.worker.waiting.popleft()
            if waiting.done():  # its check was cancelled
                continue
            if isinstance(answer, BaseException):
                waiting.set_exception(answer)
            else:
                waiting.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.died()


class _Worker:
    """One worker process, the pipe to it and the pages it has not answered yet, in order."""

    def __init__(self, process: BaseProcess, pages: asyncio.WriteTransport, pool: ExtractorPool) -> None:
        self.process = process
        self.pages = pages
        self.pool = pool
        self.waiting: collections.deque[asyncio.Future[Extraction]] = collections.deque()
        self.answers: asyncio.ReadTransport | None = None

    def send(self, body: bytes, url: str, charset: str | None) -> asyncio.Future[Extraction]:
        future: asyncio.Future[Extraction] = asyncio.get_running_loop().create_future()
        payload = pickle.dumps((body, url, charset), pickle.HIGHEST_PROTOCOL)
        self.waiting.append(future)
        self.pages.write(_LENGTH.pack(len(payload)))
        self.pages.write(payload)
        return future

    def died(self) -> None:
        if self.pool.forget(self):
            log.warning("a page extraction worker died; starting a new one")
        while self.waiting:
            waiting = self.waiting.popleft()
            if not waiting.done():
                waiting.set_exception(ExtractorDied())


class ExtractorPool:
    """Runs `extract` in `processes` worker processes, started with the first page.

    Workers are spawned, not forked: the parent runs an event loop and threads. They live
    until `close()` and serve the event loop that started them (like the Checker, whose
    loop that is). A worker that dies fails its pages, which are read again by a new one;
    a page that keeps killing workers is given up on (None) instead of being parsed in
    this process. With `processes=0` pages are read in a thread of this process.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._workers: list[_Worker] = []
        self._starting: asyncio.Lock | None = None

    async def read(self, body: bytes, url: str, charset: str | None = None) -> Extraction | None:
        """What `extract` says about the page; None when its worker processes keep dying.

        Pages travel as the bytes they arrived in: text would be encoded for the pipe and
        decoded again on both sides."""
        if self.processes == 0:
            return await asyncio.to_thread(extract, body, url, charset)
        for _ in range(EXTRACT_ATTEMPTS):
            workers = self._workers if len(self._workers) == self.processes else await self._start()
            worker = min(workers, key=lambda w: len(w.waiting))
            try:
                return await worker.send(body, url, charset)
            except ExtractorDied:
                pass
        log.error("page extraction workers died %d times on %s", EXTRACT_ATTEMPTS, url)
        return None

    def worker_pids(self) -> list[int]:
        """The running extractor processes (for measuring them)."""
        return sorted(w.process.pid for w in self._workers if w.process.pid is not None)

    def forget(self, worker: _Worker) -> bool:
        """Stop sending pages to `worker`; False when it was already forgotten."""
        if worker not in self._workers:
            return False
        self._workers.remove(worker)
        worker.pages.close()
        return True

    async def close(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.pages.close()  # the worker reads to the end of its pipe and exits
        for worker in workers:
            await asyncio.to_thread(worker.process.join)
            if worker.answers is not None:
                worker.answers.close()

    async def _start(self) -> list[_Worker]:
        self._starting = self._starting or asyncio.Lock()
        async with self._starting:
            while len(self._workers) < self.processes:
                self._workers.append(await self._spawn())
        return self._workers

    async def _spawn(self) -> _Worker:
        context = multiprocessing.get_context("spawn")
        pages_in, pages_out = context.Pipe(duplex=False)
        answers_in, answers_out = context.Pipe(duplex=False)
        process = context.Process(target=serve_pages, args=(pages_in, answers_out), daemon=True)
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
