"""The body of an extractor process (see `extractor_pool`), apart so that such a process imports
only the extractor: no event loop, no database, a dozen megabytes less in each of them."""

from __future__ import annotations

import json
import os
import pickle
import resource
import signal
import struct
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection

from cloudtrack_app.long_lived import freeze_startup_objects, turn_off_malloc_fast_bins
from cloudtrack_app.tracking.extract import extract

# The kernel stops a worker with this signal when a page has used up its CPU time: the
# timer counts the process's own CPU, and the signal's default action ends it even in C code.
CPU_LIMIT_SIGNAL = signal.SIGPROF


# The lengths of the URL, the charset, the selectors and the body, then `extract`'s `candidates`.
_HEADER = struct.Struct("!IIIIB")
_NO_CHARSET = 0xFFFFFFFF
_CANDIDATES_FLAG: dict[bool | None, int] = {None: 0, False: 1, True: 2}
_FLAG_CANDIDATES = {flag: value for value, flag in _CANDIDATES_FLAG.items()}


def page_header(
    url: str, charset: str | None, selectors: Sequence[str], body_length: int, candidates: bool | None = None
) -> bytes:
    """What precedes a page's body in the pipe: the body itself follows as it is, unpickled."""
    url_bytes = url.encode("utf-8", "surrogatepass")
    charset_bytes = b"" if charset is None else charset.encode("utf-8", "surrogatepass")
    charset_length = _NO_CHARSET if charset is None else len(charset_bytes)
    # JSON: a selector may hold any character, a separator would need escaping.
    selector_bytes = json.dumps(list(selectors)).encode("utf-8", "surrogatepass") if selectors else b""
    return (
        _HEADER.pack(
            len(url_bytes), charset_length, len(selector_bytes), body_length, _CANDIDATES_FLAG[candidates]
        )
        + url_bytes
        + charset_bytes
        + selector_bytes
    )


def _read_exactly(pipe: int, size: int) -> bytes:
    """`size` bytes from the pipe; EOFError when it closes first. A page that is all in the pipe
    already (the usual case: the pool writes it whole) comes in one read, without a copy."""
    first = os.read(pipe, size)
    if len(first) == size:
        return first
    chunks = [first]
    missing = size - len(first)
    while missing:
        chunk = os.read(pipe, missing)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _next_page(pipe: int) -> tuple[bytes, str, str | None, tuple[str, ...], bool | None]:
    url_length, charset_length, selectors_length, body_length, candidates_flag = _HEADER.unpack(
        _read_exactly(pipe, _HEADER.size)
    )
    url = _read_exactly(pipe, url_length).decode("utf-8", "surrogatepass")
    charset = None
    if charset_length != _NO_CHARSET:
        charset = _read_exactly(pipe, charset_length).decode("utf-8", "surrogatepass")
    selectors: tuple[str, ...] = ()
    if selectors_length:
        selectors = tuple(json.loads(_read_exactly(pipe, selectors_length).decode("utf-8", "surrogatepass")))
    body = _read_exactly(pipe, body_length)
    return body, url, charset, selectors, _FLAG_CANDIDATES.get(candidates_flag)


def serve_pages(pages: Connection, answers: Connection, cpu_seconds: float | None = None) -> None:
    """Pages in, extractions out (in the same order), until the checker closes its end of `pages`.

    With `cpu_seconds`, each page may use that much CPU; the kernel ends the process at
    the limit (by `CPU_LIMIT_SIGNAL`), and the pool starts another one.
    """
    freeze_startup_objects()
    turn_off_malloc_fast_bins()
    if cpu_seconds is not None:
        signal.signal(CPU_LIMIT_SIGNAL, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a page over its limit leaves no core file
    while True:
        try:
            body, url, charset, selectors, candidates = _next_page(pages.fileno())
        except EOFError:
            return
        if cpu_seconds is not None:
            signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
        try:
            answer: object = extract(body, url, charset, selectors, candidates)
        except Exception:  # the checker reports the page as failed; the next pages still get read
            answer = RuntimeError(f"extracting {url} failed in its worker process:\n{traceback.format_exc()}")
        finally:
            if cpu_seconds is not None:
                signal.setitimer(signal.ITIMER_PROF, 0)
        answers.send_bytes(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
