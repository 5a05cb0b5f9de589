"""The connection pools under the shared client: one per shop origin, bounded, swept, still guarded.

A pool per origin keeps each request's bookkeeping to its own shop's few connections. The
number of pools is bounded (least recently used closed first), pools whose connections have
all expired are closed by a periodic sweep, and every pool connects through the guarded
backend, so a host name that resolves into a private network is refused at connect time.
The servers are real, in the test's event loop on loopback; the sweep's clock is the test's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from ipaddress import ip_address

import httpcore
import pytest

from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.fetch import (
    DirectFetcher,
    FetchError,
    FetchErrorKind,
    ScraperApiFetcher,
    shared_client,
)
from cloudtrack_app.tracking.fetch.base import OriginPools, shared_transport
from cloudtrack_app.tracking.fetch.netguard import Guard, IPAddress, PinnedNetworkBackend
from tests.fetch_servers import LOOPBACK_ONE, PageServer, Reply, only_127_0_0_1

pytestmark = pytest.mark.usefixtures("close_shared_clients")

PAGE = b"<!DOCTYPE html><html><head><title>Kettle</title></head><body>24.99</body></html>"


class Shop:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that records when a client closes a connection."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # before each answer, so that requests overlap
        self.port = 0
        self.connections = 0
        self.open_connections = 0
        self.closed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Shop:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def origin(self) -> tuple[bytes, bytes, int]:
        return (b"http", b"127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        self.connections += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(self.delay)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
                writer.write(head % len(PAGE) + PAGE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self.open_connections -= 1
        self.closed.set()
        writer.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pools(clock: Clock, *, max_origins: int = 8, keepalive_expiry: float = 15.0) -> OriginPools:
    return OriginPools(
        network_backend=PinnedNetworkBackend(Guard(is_address_allowed=only_127_0_0_1)),
        ssl_context=httpcore.default_ssl_context(),
        max_connections=8,
        max_keepalive_connections=2,
        keepalive_expiry=keepalive_expiry,
        max_origins=max_origins,
        sweep_seconds=1.0,
        clock=clock,
    )


async def get(pools: OriginPools, shop: Shop) -> bytes:
    request = httpcore.Request(
        "GET", f"http://127.0.0.1:{shop.port}/kettle", headers=[(b"Host", b"127.0.0.1")]
    )
    response = await pools.handle_async_request(request)
    try:
        return b"".join([chunk async for chunk in response.aiter_stream()])
    finally:
        await response.aclose()


@pytest.fixture
async def shops() -> AsyncIterator[list[Shop]]:
    async with Shop() as first, Shop() as second, Shop() as third:
        yield [first, second, third]


async def test_each_origin_has_its_own_pool(shops: list[Shop]) -> None:
    first, second, _ = shops
    async with make_pools(Clock()) as pools:
        assert await get(pools, first) == PAGE
        assert await get(pools, second) == PAGE
        assert await get(pools, first) == PAGE
        assert pools.origins == [second.origin, first.origin]  # least recently used first
        first_pool, second_pool = pools.pool(first.origin), pools.pool(second.origin)
        assert first_pool is not None and second_pool is not None and first_pool is not second_pool
        assert len(first_pool.connections) == len(second_pool.connections) == 1
        assert first.open_connections == second.open_connections == 1  # kept alive and reused


async def test_the_least_recently_used_pool_is_closed_beyond_the_bound(shops: list[Shop]) -> None:
    first, second, third = shops
    async with make_pools(Clock(), max_origins=2) as pools:
        await get(pools, first)
        await get(pools, second)
        await get(pools, first)
        await get(pools, third)
        assert pools.origins == [first.origin, third.origin]
        await asyncio.wait_for(second.closed.wait(), 5)
        assert second.open_connections == 0
        assert first.open_connections == third.open_connections == 1


async def test_a_pool_with_a_request_in_progress_is_not_evicted(shops: list[Shop]) -> None:
    first, second, _ = shops
    async with make_pools(Clock(), max_origins=1) as pools:
        request = httpcore.Request("GET", f"http://127.0.0.1:{first.port}/kettle", headers=[(b"Host", b"x")])
        response = await pools.handle_async_request(request)  # its body not read yet
        assert await get(pools, second) == PAGE
        assert pools.origins == [first.origin, second.origin]
        assert b"".join([chunk async for chunk in response.aiter_stream()]) == PAGE
        await response.aclose()
        assert first.open_connections == 1


async def test_pools_whose_connections_expired_are_swept_at_most_once_a_second(shops: list[Shop]) -> None:
    first, second, _ = shops
    clock = Clock()
    async with make_pools(clock, keepalive_expiry=0.05) as pools:
        await get(pools, first)
        await asyncio.sleep(0.1)  # the connection to `first` is now past its keep-alive
        clock.now += 0.5
        await get(pools, second)
        assert pools.origins == [first.origin, second.origin]  # less than a second: no sweep yet
        clock.now += 0.6
        await get(pools, second)
        assert pools.origins == [second.origin]
        await asyncio.wait_for(first.closed.wait(), 5)
        assert first.open_connections == 0


async def test_shared_client_is_keyed_by_per_shop_concurrency() -> None:
    guard = Guard(is_address_allowed=only_127_0_0_1)
    two = Settings(per_shop_concurrency=2)
    assert shared_client(guard, two) is shared_client(guard, Settings(per_shop_concurrency=2))
    assert shared_client(guard, two) is not shared_client(guard, Settings(per_shop_concurrency=3))
    # A caller sending many shops' requests to one origin asks for more idle connections.
    assert shared_client(guard, two, idle_per_origin=16) is not shared_client(guard, two)
    assert shared_client(guard, two, idle_per_origin=16) is shared_client(guard, two, idle_per_origin=16)


async def test_the_scraper_api_keeps_as_many_idle_connections_as_fetches_run() -> None:
    """All pages go to the service's one origin: with the per-shop number kept idle, most
    connections would be closed after each page and opened (with TLS) again for the next."""
    async with Shop(delay=0.1) as service:
        settings = Settings(
            scraper_api_url=f"http://127.0.0.1:{service.port}/?url={{url}}",
            scraper_api_key="k",
            fetch_concurrency=8,
            per_shop_concurrency=2,
            allow_private_urls=True,
        )

        async def public(host: str, port: int) -> list[IPAddress]:
            return [ip_address("93.184.216.34")]  # never connected to: the service fetches

        fetcher = ScraperApiFetcher(settings, guard=Guard(resolver=public))
        pages = [f"https://shop.example/p{i}" for i in range(8)]
        await asyncio.gather(*(fetcher.fetch(page) for page in pages))
        await asyncio.sleep(0.05)
        assert service.connections == service.open_connections == 8
        await asyncio.gather(*(fetcher.fetch(page) for page in pages))
        assert service.connections == 8  # all reused, none closed and opened again


async def test_a_name_resolving_to_a_private_address_is_still_refused_at_connect(
    server: PageServer, second_server: PageServer
) -> None:
    """The guard is consulted by the pool's backend, not only by the fetcher's URL check."""

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [LOOPBACK_ONE if host == "shop.test" else ip_address("127.0.0.2")]

    server.routes["/"] = second_server.routes["/"] = Reply()
    guard = Guard(is_address_allowed=only_127_0_0_1, resolver=resolver)
    settings = Settings(allow_private_urls=False)
    fetcher = DirectFetcher(settings, guard=guard)
    assert (await fetcher.fetch(f"http://shop.test:{server.port}/")).status_code == 200
    with pytest.raises(FetchError) as refused:
        await fetcher.fetch(f"http://inside.test:{second_server.port}/")
    assert refused.value.kind is FetchErrorKind.BLOCKED_ADDRESS
    assert second_server.requests == []
    assert isinstance(shared_transport(guard, settings)._pool, OriginPools)  # type: ignore[attr-defined]
