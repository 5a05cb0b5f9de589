"""The body of an extractor process (see `extractor_pool`), apart so that such a process imports
only the extractor: no event loop, no database, a dozen megabytes less in each of them."""

from __future__ import annotations

import pickle
import resource
import signal
import traceback
from multiprocessing.connection import Connection

from cloudtrack_app.tracking.extract import extract

# The kernel stops a worker with this signal when a page has used up its CPU time: the
# timer counts the process's own CPU, and the signal's default action ends it even in C code.
CPU_LIMIT_SIGNAL = signal.SIGPROF


def serve_pages(pages: Connection, answers: Connection, cpu_seconds: float | None = None) -> None:
    """Pages in, extractions out (in the same order), until the checker closes its end of `pages`.

    With `cpu_seconds`, each page may use that much CPU; the kernel ends the process at
    the limit (by `CPU_LIMIT_SIGNAL`), and the pool starts another one.
    """
    if cpu_seconds is not None:
        signal.signal(CPU_LIMIT_SIGNAL, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a page over its limit leaves no core file
    while True:
        try:
            payload = pages.recv_bytes()
        except EOFError:
            return
        body, url, charset, selectors = pickle.loads(payload)
        if cpu_seconds is not None:
            signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
        try:
            answer: object = extract(body, url, charset, selectors)
        except Exception:  # the checker reports the page as failed; the next pages still get read
            answer = RuntimeError(f"extracting {url} failed in its worker process:\n{traceback.format_exc()}")
        finally:
            if cpu_seconds is not None:
                signal.setitimer(signal.ITIMER_PROF, 0)
        answers.send_bytes(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
