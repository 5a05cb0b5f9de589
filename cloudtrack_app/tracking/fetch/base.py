"""What every fetcher shares: its result, its errors, the checks on a response, the HTTP client.

A fetcher may reach a page in its own way (plain HTTP, a scraping service, a headless
browser), but all of them answer with the same `FetchResult` or `FetchError`, judge a page
by the same content-type and bot-wall rules, and send their HTTP through the one guarded
client of this module, which connects only to addresses `netguard` has checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from http import HTTPStatus
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import httpcore
import httpx

from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.extract.page import decode_page
from cloudtrack_app.tracking.fetch.netguard import (
    BlockedAddress,
    Guard,
    PinnedNetworkBackend,
    UnresolvableHost,
    URLRefused,
)

HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
SNIFFED_MEDIA_TYPES = frozenset({"", "text/plain", "application/octet-stream"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate, br"  # the codings that body._Inflater undoes
TRANSIENT_STATUSES = frozenset({408, 425, 429})
BOT_WALL_STATUSES = frozenset({403, 429, 503})
BOT_WALL_MARKERS = (
    b"captcha",
    b"cf-chl",
    b"cf-browser-verification",
    b"access denied",
    b"are you a robot",
    b"are you human",
    b"verify you are human",
    b"datadome",
    b"perimeterx",
    b"_incapsula_resource",
    b"request unsuccessful",
)
BOT_WALL_SAMPLE_BYTES = 64 * 1024
SCRAPER_API_HINT = (
    " If this keeps happening, route this shop through the scraper_api fetcher "
    '(FETCHERS={"shop.example": "scraper_api"}).'
)
# Told to administrators only (CLI, admins in the UI): other people cannot change the setting.
PRIVATE_NETWORK_HINT = (
    "To track shops on your own network, set CLOUDTRACK_ALLOW_PRIVATE_URLS=true "
    "in the server's environment (or .env) and restart CloudTrack."
)
MEGABYTE = 1024 * 1024


class FetchErrorKind(StrEnum):
    INVALID_URL = "invalid_url"
    BLOCKED_ADDRESS = "blocked_address"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    NOT_HTML = "not_html"
    NOT_AN_IMAGE = "not_an_image"
    TOO_LARGE = "too_large"
    HTTP_ERROR = "http_error"
    BLOCKED_BY_SHOP = "blocked_by_shop"
    TOO_MANY_REDIRECTS = "too_many_redirects"


class FetchError(Exception):
    """A page that could not be fetched; `message` is a sentence a user understands."""

    def __init__(
        self,
        kind: FetchErrorKind,
        message: str,
        *,
        status_code: int | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.transient = transient

    def __repr__(self) -> str:
        return f"FetchError({self.kind.value!r}, {self.message!r}, status_code={self.status_code})"


@dataclass(frozen=True)
class FetchResult:
    """A fetched page as it arrived: its bytes and the charset its response declared.

    Pages stay bytes on their way to the extractor, which reads them in another process;
    `html` decodes them the same way for whoever wants text.
    """

    url: str
    status_code: int
    not_modified: bool
    body: bytes
    charset: str | None
    content_type: str | None
    etag: str | None
    last_modified: str | None

    @cached_property
    def html(self) -> str:
        return decode_page(self.body, self.charset) if self.body else ""


class Fetcher(Protocol):
    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


# --- errors ----------------------------------------------------------------------------


def refusal_error(error: URLRefused) -> FetchError:
    if isinstance(error, BlockedAddress):
        return FetchError(FetchErrorKind.BLOCKED_ADDRESS, str(error))
    if isinstance(error, UnresolvableHost):
        return FetchError(FetchErrorKind.UNREACHABLE, str(error), transient=True)
    return FetchError(FetchErrorKind.INVALID_URL, str(error))


@contextlib.contextmanager
def fetch_errors(host: str) -> Iterator[None]:
    """Turn guard and httpx failures into FetchErrors that say what happened, in words."""
    try:
        yield
    except URLRefused as error:
        raise refusal_error(error) from error
    except httpx.TimeoutException as error:
        raise FetchError(FetchErrorKind.TIMEOUT, f"No answer from {host} in time.", transient=True) from error
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise FetchError(
            FetchErrorKind.INVALID_URL, "That is not a web address CloudTrack can open."
        ) from error
    except httpx.ConnectError as error:
        if "CERTIFICATE_VERIFY_FAILED" in str(error):
            raise FetchError(
                FetchErrorKind.UNREACHABLE,
                f"{host} has an invalid security certificate, so CloudTrack did not trust it.",
            ) from error
        # The operating system's words ("[Errno 111] Connect call failed") mean nothing to people.
        raise FetchError(
            FetchErrorKind.UNREACHABLE,
            f"The shop did not answer: nothing at {host} accepted the connection.",
            transient=True,
        ) from error
    except httpx.DecodingError as error:
        raise FetchError(
            FetchErrorKind.UNREACHABLE, f"{host} sent a damaged (undecodable) response.", transient=True
        ) from error
    except httpx.HTTPError as error:
        raise FetchError(
            FetchErrorKind.UNREACHABLE,
            f"The connection to {host} broke off before the page arrived.",
            transient=True,
        ) from error


def status_error(status: int, reason: str) -> FetchError:
    return FetchError(
        FetchErrorKind.HTTP_ERROR,
        f"The shop answered {status} {reason}.".replace(" .", "."),
        status_code=status,
        transient=status >= 500 or status in TRANSIENT_STATUSES,
    )


def standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def megabytes(size: int) -> str:
    """A byte count in megabytes as people write it: 5 MB, 2.5 MB (binary megabytes, as limits are set)."""
    return f"{round(size / MEGABYTE, 1):g}"


def too_large(limit: int) -> FetchError:
    return FetchError(
        FetchErrorKind.TOO_LARGE,
        f"The page is larger than {megabytes(limit)} MB, more than CloudTrack reads for one product.",
    )


def too_many_redirects(settings: Settings) -> FetchError:
    return FetchError(
        FetchErrorKind.TOO_MANY_REDIRECTS,
        f"The page redirected more than {settings.fetch_max_redirects} times.",
    )


def total_timeout_error(settings: Settings) -> FetchError:
    return FetchError(
        FetchErrorKind.TIMEOUT,
        f"The shop took longer than {settings.fetch_total_timeout:g} seconds to send the page.",
        transient=True,
    )


# --- judging a response ----------------------------------------------------------------


def parse_content_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


def is_bot_wall(headers: httpx.Headers, body: bytes) -> bool:
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    sample = body.lower()
    return any(marker in sample for marker in BOT_WALL_MARKERS)


def bot_wall_error(status: int, hint: str) -> FetchError:
    return FetchError(
        FetchErrorKind.BLOCKED_BY_SHOP,
        f"The shop refused automated access (it answered {status} with a bot check).{hint}",
        status_code=status,
        transient=status in (429, 503),
    )


# --- shared clients --------------------------------------------------------------------


def guard_for(settings: Settings) -> Guard:
    return Guard(allow_private=settings.allow_private_urls)


# A key of OriginPools: (scheme, host, port) as httpcore's URL holds them.
Origin = tuple[bytes, bytes, int | None]
# How many shops' pools are kept; a pool holds only its shop's idle connections, so the bound
# caps open sockets to shops not fetched lately without touching the ones in use.
MAX_ORIGIN_POOLS = 512
# How often, at most, the pools are walked for ones whose connections have all expired.
POOL_SWEEP_SECONDS = 1.0


def _pool_is_unused(pool: httpcore.AsyncConnectionPool) -> bool:
    # httpcore keeps a request in `_requests` from its arrival until its response is closed,
    # including while it waits for a connection, which the public `connections` cannot show.
    return not getattr(pool, "_requests", None) and all(
        connection.is_idle() for connection in pool.connections
    )


def _pool_has_expired(pool: httpcore.AsyncConnectionPool) -> bool:
    return _pool_is_unused(pool) and all(
        connection.is_closed() or connection.has_expired() for connection in pool.connections
    )


class OriginPools:
    """One httpcore connection pool per origin (scheme, host, port), created on first use.

    httpcore 1.0's pool walks all its connections, several times, for every request it
    places and every response it closes: with one pool for every shop, the CPU per request
    grows with the number of shops kept alive. A pool per origin walks only its shop's few.
    The least recently used pools beyond `max_origins` are closed, and pools whose
    connections have all expired are closed by a sweep at most once per `sweep_seconds`,
    so that shops checked once a day do not keep sockets and memory between checks. A pool
    with a request in progress is never closed.
    """

    def __init__(
        self,
        *,
        network_backend: httpcore.AsyncNetworkBackend,
        ssl_context: ssl.SSLContext,
        max_connections: int | None,
        max_keepalive_connections: int | None,
        keepalive_expiry: float,
        max_origins: int = MAX_ORIGIN_POOLS,
        sweep_seconds: float = POOL_SWEEP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._network_backend = network_backend
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._max_keepalive_connections = max_keepalive_connections
        self._keepalive_expiry = keepalive_expiry
        self._max_origins = max_origins
        self._sweep_seconds = sweep_seconds
        self._clock = clock
        self._next_sweep = clock() + sweep_seconds
        self._pools: OrderedDict[Origin, httpcore.AsyncConnectionPool] = OrderedDict()

    @property
    def origins(self) -> list[Origin]:
        """The origins with a pool, least recently used first."""
        return list(self._pools)

    def pool(self, origin: Origin) -> httpcore.AsyncConnectionPool | None:
        return self._pools.get(origin)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port)
        closing = self._retire(origin)
        if closing:
            await self._close(closing)
        # No await between taking the pool and handing it the request: once it holds the
        # request, `_pool_is_unused` keeps the eviction and the sweep away from it.
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context,
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_keepalive_connections,
                keepalive_expiry=self._keepalive_expiry,
                network_backend=self._network_backend,
            )
        else:
            self._pools.move_to_end(origin)
        return await pool.handle_async_request(request)

    def _retire(self, origin: Origin) -> list[httpcore.AsyncConnectionPool]:
        """Take out of the map the pools to close before `origin` is served."""
        closing: list[httpcore.AsyncConnectionPool] = []
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_seconds
            for key, pool in list(self._pools.items()):
                if key != origin and _pool_has_expired(pool):
                    closing.append(self._pools.pop(key))
        # Room for `origin` if it is new; busy pools are skipped, so the bound may be passed
        # by as many origins as there are requests in progress, never by idle ones.
        excess = len(self._pools) + (origin not in self._pools) - self._max_origins
        if excess > 0:
            for key, pool in list(self._pools.items()):
                if excess <= 0:
                    break
                if key != origin and _pool_is_unused(pool):
                    closing.append(self._pools.pop(key))
                    excess -= 1
        return closing

    async def _close(self, pools: list[httpcore.AsyncConnectionPool]) -> None:
        for pool in pools:
            await pool.aclose()

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        await self._close(pools)

    async def __aenter__(self) -> OriginPools:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, guard: Guard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx cannot be given a network backend, so its pool is replaced by pools per origin
        # that all connect through the guarded backend.
        self._pool = OriginPools(
            network_backend=PinnedNetworkBackend(guard),
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )


def _refuse_all_cookies() -> CookieJar:
    # Each fetch keeps its own cookies; the shared client must not collect every shop's.
    # (A bare CookieJar, because httpx copies an httpx.Cookies into a jar without the policy.)
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_transports: weakref.WeakKeyDictionary[httpx.AsyncClient, _PinnedTransport] = weakref.WeakKeyDictionary()


def shared_client(
    guard: Guard, settings: Settings, *, idle_per_origin: int | None = None
) -> httpx.AsyncClient:
    """The client of this process and event loop for `guard`, created on first use.

    Keyed by process id as well, so a forked worker never reuses its parent's sockets.
    `idle_per_origin` (default: the per-shop concurrency) is for callers whose requests to
    one origin are not held to that, such as every shop's pages through one scraping service.
    """
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    idle = idle_per_origin or settings.per_shop_concurrency
    key = (os.getpid(), guard, settings.fetch_concurrency, idle)
    client = clients.get(key)
    if client is None or client.is_closed:
        # Limits per shop (origin): a shop's pages are never fetched more than
        # `per_shop_concurrency` at a time, so that many idle connections are all it can
        # reuse, and a connection closed only to be opened again for the shop's next page
        # costs more CPU than the exchange itself.
        limits = httpx.Limits(
            max_connections=max(32, 4 * settings.fetch_concurrency),
            max_keepalive_connections=idle,
            keepalive_expiry=15.0,
        )
        transport = _PinnedTransport(guard, limits)
        client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            cookies=_refuse_all_cookies(),
        )
        clients[key] = client
        _transports[client] = transport
    return client


def shared_transport(guard: Guard, settings: Settings) -> httpx.AsyncBaseTransport:
    """The connection pool under `shared_client`, for requests that need none of the client's
    layers (cookie jar, redirects, auth, hooks): on a kept-alive connection they cost about as
    much CPU as the exchange itself."""
    return _transports[shared_client(guard, settings)]


async def close_shared_clients(loop: asyncio.AbstractEventLoop) -> None:
    """Close the shared HTTP clients of `loop` (the browser is closed by its own module)."""
    for client in _clients.pop(loop, {}).values():
        await client.aclose()


def request_timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.fetch_connect_timeout,
        read=settings.fetch_read_timeout,
        write=settings.fetch_read_timeout,
        pool=settings.fetch_connect_timeout,
    )


def request_headers(settings: Settings, etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {
        "User-Agent": settings.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": settings.accept_language,
        # What httpx's client would add: the direct fetcher hands requests to its transport.
        "Accept-Encoding": ACCEPT_ENCODING,
        "Connection": "keep-alive",
    }
    # Validators are echoed back verbatim; one that is not plain ASCII cannot be sent.
    if etag and etag.isascii():
        headers["If-None-Match"] = etag
    if last_modified and last_modified.isascii():
        headers["If-Modified-Since"] = last_modified
    return headers
