"""The connections under the direct fetcher: reused while the shop keeps them, replaced when it doesn't.

The fetcher keeps connections to a shop open between checks. Shops close idle connections on
their own schedule, and some send a stray "408 Request Timeout" first; either way the next
check must open a fresh connection instead of failing on the dead one. HTTPS pages must arrive
whole through the pinned connection, and a shop that stops answering must cost a timeout, not
a hang. The servers here are real, on 127.0.0.1; the HTTPS ones present a self-signed
certificate for shop.test that the test's client trusts.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpcore
import pytest

from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.fetch import fetch_page
from cloudtrack_app.tracking.fetch.netguard import (
    _STREAM_BUFFER_LIMIT,
    AsyncioStream,
    Guard,
    IPAddress,
    PinnedNetworkBackend,
)
from tests.fetch_servers import LOOPBACK_ONE, only_127_0_0_1

pytestmark = pytest.mark.usefixtures("close_shared_clients")

PAGE = b"<!DOCTYPE html><html><head><title>Kettle</title></head><body>24.99</body></html>"
STRAY_408 = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"


class KeepAliveShop:
    """An HTTP/1.1 server in the test's event loop that answers on keep-alive connections.

    `when_idle` is what it does with a connection after answering: "keep" it, "close" it (an
    idle timeout), or send a "stray_408" and keep it open. `went_idle` is set once that is done.
    """

    def __init__(self, body: bytes, when_idle: str = "keep", tls: ssl.SSLContext | None = None) -> None:
        self.body = body
        self.when_idle = when_idle
        self.tls = tls
        self.connections = 0
        self.requests = 0
        self.went_idle = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> KeepAliveShop:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    def url(self, path: str = "/kettle", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
                writer.write(head % len(self.body) + self.body)
                await writer.drain()
                if self.when_idle == "keep":
                    continue
                await asyncio.sleep(0.05)  # the client has read the answer; the connection is idle
                if self.when_idle == "close":
                    writer.close()
                    await writer.wait_closed()
                    self.went_idle.set()
                    return
                writer.write(STRAY_408)
                await writer.drain()
                self.went_idle.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # the client closed the connection
        finally:
            writer.close()


async def settle() -> None:
    """Let the client's side of the loop take in what the server just did (a FIN, a few bytes)."""
    await asyncio.sleep(0.05)


async def test_a_connection_the_shop_closed_while_idle_is_not_reused() -> None:
    async with KeepAliveShop(PAGE, when_idle="close") as shop:
        first = await fetch_page(shop.url(), settings=Settings(allow_private_urls=True))
        await shop.went_idle.wait()
        await settle()
        second = await fetch_page(shop.url(), settings=Settings(allow_private_urls=True))
    assert first.html == second.html == PAGE.decode()
    assert (shop.connections, shop.requests) == (2, 2)


async def test_a_connection_on_which_the_shop_sent_a_stray_answer_is_not_reused() -> None:
    """The stray 408 must not be taken for the answer to the next request."""
    async with KeepAliveShop(PAGE, when_idle="stray_408") as shop:
        await fetch_page(shop.url(), settings=Settings(allow_private_urls=True))
        await shop.went_idle.wait()
        await settle()
        second = await fetch_page(shop.url(), settings=Settings(allow_private_urls=True))
    assert second.status_code == 200
    assert second.html == PAGE.decode()
    assert (shop.connections, shop.requests) == (2, 2)


async def test_a_shop_that_keeps_the_connection_gets_every_request_on_it() -> None:
    async with KeepAliveShop(PAGE, when_idle="keep") as shop:
        for _ in range(3):
            await fetch_page(shop.url(), settings=Settings(allow_private_urls=True))
    assert (shop.connections, shop.requests) == (1, 3)


# --- HTTPS and timeouts, through the pinned backend in an httpcore pool -------------------------


@pytest.fixture
def server_tls(shop_certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*shop_certificate)
    return context


@pytest.fixture
async def pool(shop_certificate: tuple[Path, Path]) -> AsyncIterator[httpcore.AsyncConnectionPool]:
    """A pool like the fetcher's, trusting the test certificate, with shop.test at 127.0.0.1."""

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [LOOPBACK_ONE]

    guard = Guard(is_address_allowed=only_127_0_0_1, resolver=resolver)
    client_tls = ssl.create_default_context(cafile=str(shop_certificate[0]))
    async with httpcore.AsyncConnectionPool(
        ssl_context=client_tls, network_backend=PinnedNetworkBackend(guard)
    ) as running:
        yield running


def timeouts(seconds: float) -> dict[str, dict[str, float]]:
    return {"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}}


async def test_an_https_page_arrives_whole_over_a_reused_connection_and_a_closed_one_is_replaced(
    pool: httpcore.AsyncConnectionPool, server_tls: ssl.SSLContext
) -> None:
    # Larger than the connection's read buffer, so reading pauses and resumes the TLS stream.
    body = bytes(range(256)) * (3 * 4096)
    async with KeepAliveShop(body, when_idle="keep", tls=server_tls) as shop:
        for _ in range(2):
            response = await pool.request("GET", shop.url(host="shop.test"), extensions=timeouts(10))
            assert response.status == 200
            assert response.content == body
        assert (shop.connections, shop.requests) == (1, 2)

    async with KeepAliveShop(PAGE, when_idle="close", tls=server_tls) as shop:
        await pool.request("GET", shop.url(host="shop.test"), extensions=timeouts(10))
        await shop.went_idle.wait()
        await settle()
        response = await pool.request("GET", shop.url(host="shop.test"), extensions=timeouts(10))
        assert response.content == PAGE
        assert (shop.connections, shop.requests) == (2, 2)


@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """A port whose connections the kernel accepts but nobody ever reads from or answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        yield listener


async def test_a_shop_that_never_answers_is_a_read_timeout(
    pool: httpcore.AsyncConnectionPool, silent_listener: socket.socket
) -> None:
    url = f"http://shop.test:{silent_listener.getsockname()[1]}/kettle"
    started = time.monotonic()
    with pytest.raises(httpcore.ReadTimeout):
        await pool.request("GET", url, extensions=timeouts(0.3))
    assert time.monotonic() - started < 3


async def test_a_shop_that_never_completes_the_tls_handshake_is_a_connect_timeout(
    pool: httpcore.AsyncConnectionPool, silent_listener: socket.socket
) -> None:
    url = f"https://shop.test:{silent_listener.getsockname()[1]}/kettle"
    with pytest.raises(httpcore.ConnectTimeout):
        await pool.request("GET", url, extensions=timeouts(0.3))
    assert pool.connections == []


async def test_a_hung_https_shop_is_given_up_on_promptly(
    pool: httpcore.AsyncConnectionPool, server_tls: ssl.SSLContext
) -> None:
    """After the handshake the shop reads nothing and answers nothing, not even the TLS goodbye;
    closing the connection must not wait out asyncio's 30 second TLS shutdown."""
    listener = socket.create_server(("127.0.0.1", 0))
    release = threading.Event()

    def hang() -> None:
        connection, _ = listener.accept()
        with server_tls.wrap_socket(connection, server_side=True):
            release.wait(30)

    thread = threading.Thread(target=hang, daemon=True)
    thread.start()
    url = f"https://shop.test:{listener.getsockname()[1]}/kettle"
    started = time.monotonic()
    try:
        with pytest.raises(httpcore.ReadTimeout):
            await pool.request("GET", url, extensions=timeouts(0.3))
        assert time.monotonic() - started < 5
    finally:
        release.set()
        thread.join(timeout=5)
        listener.close()


# --- reads hand over what has arrived ---------------------------------------------------------


@pytest.fixture
async def stream_pair() -> AsyncIterator[tuple[AsyncioStream, asyncio.StreamWriter]]:
    """An AsyncioStream as the fetcher opens it, and the writer of the shop's end of it."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours, limit=_STREAM_BUFFER_LIMIT)
    _, shop = await asyncio.open_connection(sock=theirs)
    stream = AsyncioStream(reader, writer)
    yield stream, shop
    shop.close()
    await stream.aclose()


async def test_a_read_returns_everything_already_buffered_up_to_a_megabyte(
    stream_pair: tuple[AsyncioStream, asyncio.StreamWriter],
) -> None:
    stream, shop = stream_pair
    shop.write(b"a" * 300_000)
    await shop.drain()
    await settle()
    assert await stream.read(64 * 1024, timeout=1) == b"a" * 300_000
    shop.write(b"b" * (_STREAM_BUFFER_LIMIT + 500_000))
    await shop.drain()
    await settle()
    assert await stream.read(64 * 1024, timeout=1) == b"b" * _STREAM_BUFFER_LIMIT
    assert await stream.read(64 * 1024, timeout=1) == b"b" * 500_000


async def test_a_read_with_nothing_buffered_waits_for_data_or_times_out(
    stream_pair: tuple[AsyncioStream, asyncio.StreamWriter],
) -> None:
    stream, shop = stream_pair
    with pytest.raises(httpcore.ReadTimeout):
        await stream.read(64 * 1024, timeout=0.1)
    waiting = asyncio.create_task(stream.read(64 * 1024, timeout=5))
    await settle()
    assert not waiting.done()
    shop.write(b"late")
    assert await waiting == b"late"
