"""The body of an extractor process (see `extractor_pool`), apart so that such a process imports
only the extractor: no event loop, no database, a dozen megabytes less in each of them."""

from __future__ import annotations

import pickle
import traceback
from multiprocessing.connection import Connection

from cloudtrack_app.tracking.extract import extract


def serve_pages(pages: Connection, answers: Connection) -> None:
    """Pages in, extractions out (in the same order), until the checker closes its end of `pages`."""
    while True:
        try:
            payload = pages.recv_bytes()
        except EOFError:
            return
        body, url, charset = pickle.loads(payload)
        try:
            answer: object = extract(body, url, charset)
        except Exception:  # the checker reports the page as failed; the next pages still get read
            answer = RuntimeError(f"extracting {url} failed in its worker process:\n{traceback.format_exc()}")
        answers.send_bytes(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
