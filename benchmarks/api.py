"""`bench api`: requests per second of the REST API, served for real on a loopback port.

The API is the very ASGI app the web app mounts (security headers and body limit included),
served by uvicorn in a thread of this process; a client on one keep-alive connection asks
`GET /watches` of a user with N watches and `GET /products/{id}` of a product with a year
of daily history, one request after the other, and prints requests/s, the median latency and
the CPU time per request. `ApiServer` also serves the API's tests.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette

from benchmarks.checks import bench_database, use_database
from benchmarks.seed import seed_watches
from cloudtrack_app import db as dbmod
from cloudtrack_app.api.app import API_PREFIX, api_routes
from cloudtrack_app.api.tokens import create_token
from cloudtrack_app.security_headers import SecurityHeaders
from cloudtrack_app.settings import get_settings

START_TIMEOUT_S = 20


class ApiServer:
    """The app's API routes under SecurityHeaders, as `cloudtrack_app.py` mounts them, on 127.0.0.1."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}{API_PREFIX}"
        app = SecurityHeaders(Starlette(routes=api_routes()))
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@contextmanager
def _unlimited_requests() -> Iterator[None]:
    """The per-token limit out of the way: the bench measures the API, not the limiter's refusals."""
    previous = os.environ.get("API_REQUESTS_PER_MINUTE")
    os.environ["API_REQUESTS_PER_MINUTE"] = str(10**9)
    get_settings.cache_clear()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("API_REQUESTS_PER_MINUTE", None)
        else:
            os.environ["API_REQUESTS_PER_MINUTE"] = previous
        get_settings.cache_clear()


def _rate(client: httpx.Client, path: str, seconds: float) -> tuple[float, float, float]:
    """Requests per second, the median latency in ms and the CPU ms per request (this
    process: server and client together, so a loaded machine changes it less than the
    rate) of `GET path` for `seconds`."""
    client.get(path).raise_for_status()  # warm up
    latencies: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        before = time.perf_counter()
        client.get(path).raise_for_status()
        latencies.append(time.perf_counter() - before)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    latencies.sort()
    return len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000, cpu / len(latencies) * 1000


def run(watches: int, days: int, seconds: float, database_url: str | None) -> list[str]:
    with bench_database(database_url) as url, _unlimited_requests():
        use_database(url)
        started = time.perf_counter()
        seeded = seed_watches("bench-api@example.com", "bench-password-1", watches, days=days)
        seeding = time.perf_counter() - started
        _, secret = create_token(seeded.user_id, "bench")
        product_id = seeded.product_ids[0]
        lines = [
            f"api: {watches} watches, {days} days of daily history each "
            f"({'sqlite' if dbmod.is_sqlite(url) else 'postgresql'}), seeded in {seeding:.0f} s"
        ]
        with (
            ApiServer() as server,
            httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
            ) as client,
        ):
            count = len(client.get("/watches").json()["watches"])
            assert count == watches, count
            for path, label in (
                ("/watches", f"GET /watches ({watches} watches)"),
                (f"/products/{product_id}?range=1y", f"GET /products/{{id}}?range=1y ({days} days)"),
                (f"/products/{product_id}?range=all", "GET /products/{id}?range=all"),
                ("/me", "GET /me (token check and rate count only)"),
            ):
                rate, median, cpu = _rate(client, path, seconds)
                lines.append(
                    f"{label}: {rate:.1f} requests/s, median {median:.1f} ms, CPU {cpu:.1f} ms per request"
                )
        dbmod.dispose_engines()
    return lines
