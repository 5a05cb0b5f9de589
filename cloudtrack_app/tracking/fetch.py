"""Fetch a product page: one guarded HTTP exchange with size, time and redirect limits.

`fetch_page` is the entry point. It picks a fetcher for the shop (`settings.fetchers`), and
every fetcher enforces the address guard of `netguard`: the direct fetcher connects only to
checked addresses, the scraper API fetcher checks the target before handing it over, and
the browser fetcher sends each of Chromium's requests through the direct client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from http import HTTPStatus
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

import brotli
import httpcore
import httpx

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.extract.page import decode_page
from cloudtrack_app.tracking.netguard import (
    BlockedAddress,
    Guard,
    PinnedNetworkBackend,
    UnresolvableHost,
    URLRefused,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Route

HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
SNIFFED_MEDIA_TYPES = frozenset({"", "text/plain", "application/octet-stream"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
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
HTML_SNIFF_BYTES = 2048
DRAIN_BYTES = 64 * 1024
BROWSER_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
BROWSER_PAGES_PER_PROCESS = 2
BROWSER_SETTLE_MS = 3000
BROWSER_DEAD_PROXY = "http://0.0.0.0:1"
BROWSER_SKIPPED_RESOURCES = frozenset({"image", "media", "font"})
_HOP_BY_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "host", "upgrade"}
)
_INFLATED_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br"})
_HTML_SIGNATURES = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta")


class FetchErrorKind(StrEnum):
    INVALID_URL = "invalid_url"
    BLOCKED_ADDRESS = "blocked_address"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    NOT_HTML = "not_html"
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


def _refusal_error(error: URLRefused) -> FetchError:
    if isinstance(error, BlockedAddress):
        return FetchError(FetchErrorKind.BLOCKED_ADDRESS, str(error))
    if isinstance(error, UnresolvableHost):
        return FetchError(FetchErrorKind.UNREACHABLE, str(error), transient=True)
    return FetchError(FetchErrorKind.INVALID_URL, str(error))


@contextlib.contextmanager
def _fetch_errors(host: str) -> Iterator[None]:
    """Turn guard and httpx failures into FetchErrors that say what happened, in words."""
    try:
        yield
    except URLRefused as error:
        raise _refusal_error(error) from error
    except httpx.TimeoutException as error:
        raise FetchError(FetchErrorKind.TIMEOUT, f"No answer from {host} in time.", transient=True) from error
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise FetchError(FetchErrorKind.INVALID_URL, f"The address is not valid: {error}.") from error
    except httpx.ConnectError as error:
        if "CERTIFICATE_VERIFY_FAILED" in str(error):
            raise FetchError(
                FetchErrorKind.UNREACHABLE,
                f"{host} has an invalid security certificate, so CloudTrack did not trust it.",
            ) from error
        raise FetchError(
            FetchErrorKind.UNREACHABLE, f"Could not connect to {host} ({error}).", transient=True
        ) from error
    except httpx.DecodingError as error:
        raise FetchError(
            FetchErrorKind.UNREACHABLE, f"{host} sent a damaged (undecodable) response.", transient=True
        ) from error
    except httpx.HTTPError as error:
        raise FetchError(
            FetchErrorKind.UNREACHABLE,
            f"The connection to {host} broke off ({type(error).__name__}).",
            transient=True,
        ) from error


def _status_error(status: int, reason: str) -> FetchError:
    return FetchError(
        FetchErrorKind.HTTP_ERROR,
        f"The shop answered {status} {reason}.".replace(" .", "."),
        status_code=status,
        transient=status >= 500 or status in TRANSIENT_STATUSES,
    )


# --- decoding --------------------------------------------------------------------------


def _parse_content_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


def looks_like_html(body: bytes) -> bool:
    head = body[:HTML_SNIFF_BYTES].lower()
    return any(signature in head for signature in _HTML_SIGNATURES)


# --- reading a response ----------------------------------------------------------------


def _too_large(limit: int) -> FetchError:
    return FetchError(
        FetchErrorKind.TOO_LARGE,
        f"The page is larger than {limit / 1_000_000:g} MB, more than CloudTrack reads for one product.",
    )


class _Inflater:
    """Undoes one content-coding, never producing much more output than there is room for.

    httpx inflates each 64 KB network chunk in one go, and a hostile page can expand that a
    thousandfold or more (a "zip bomb"); here output stops one byte past the cap.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._brotli = brotli.Decompressor() if coding == "br" else None
        self._zlib = zlib.decompressobj(
            zlib.MAX_WBITS | 16 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        )
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflated `data`, cut off once it exceeds `room` bytes."""
        if self._brotli is not None:
            return self._brotli.process(data, output_buffer_limit=room + 1)
        try:
            output = self._zlib.decompress(data, room + 1)
        except zlib.error:
            if self.coding != "deflate" or self._started:
                raise
            # Some servers send raw deflate without the zlib header, as browsers tolerate.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            output = self._zlib.decompress(data, room + 1)
        self._started = True
        return output


def _inflaters(content_encoding: str) -> list[_Inflater]:
    codings = [coding.strip().lower() for coding in content_encoding.split(",")]
    return [_Inflater(coding) for coding in reversed(codings) if coding in _INFLATED_CODINGS]


async def _read_decoded(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """The decoded body, refused (or with `truncate`, cut) once it grows past `limit` bytes."""
    inflaters = _inflaters(response.headers.get("content-encoding", ""))
    body = bytearray()
    async for raw in response.aiter_raw():
        chunk = raw
        try:
            for inflater in inflaters:
                chunk = inflater.feed(chunk, limit - len(body))
        except (zlib.error, brotli.error) as error:
            raise FetchError(
                FetchErrorKind.UNREACHABLE, "The shop sent a damaged compressed page.", transient=True
            ) from error
        body += chunk
        if len(body) > limit:
            if truncate:
                return bytes(body[:limit])
            raise _too_large(limit)
    return bytes(body)


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    return await _read_decoded(response, limit)


async def _read_sample(response: httpx.Response, limit: int) -> bytes:
    try:
        return await _read_decoded(response, limit, truncate=True)
    except (httpx.HTTPError, FetchError):
        return b""


async def _drain(response: httpx.Response, limit: int = DRAIN_BYTES) -> None:
    """Read a small leftover body to its end, so that the connection can be reused."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            return


def _is_bot_wall(headers: httpx.Headers, body: bytes) -> bool:
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    sample = body.lower()
    return any(marker in sample for marker in BOT_WALL_MARKERS)


def _bot_wall_error(status: int, hint: str) -> FetchError:
    return FetchError(
        FetchErrorKind.BLOCKED_BY_SHOP,
        f"The shop refused automated access (it answered {status} with a bot check).{hint}",
        status_code=status,
        transient=status in (429, 503),
    )


@dataclass(frozen=True)
class _PageReader:
    """Turns a streamed final response into a FetchResult or a FetchError."""

    settings: Settings
    blocked_hint: str

    async def read(
        self, response: httpx.Response, url: str, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        status = response.status_code
        content_type = response.headers.get("content-type")
        if status == 304:
            await _drain(response)
            return FetchResult(
                url=url,
                status_code=status,
                not_modified=True,
                body=b"",
                charset=None,
                content_type=content_type,
                etag=response.headers.get("etag") or etag,
                last_modified=response.headers.get("last-modified") or last_modified,
            )
        if status >= 300:
            await self._raise_for_status(response)
        media_type, charset = _parse_content_type(content_type)
        if media_type not in HTML_MEDIA_TYPES | SNIFFED_MEDIA_TYPES:
            raise FetchError(
                FetchErrorKind.NOT_HTML,
                f"The address returned {media_type}, not a web page.",
                status_code=status,
            )
        body = await _read_capped(response, self.settings.fetch_max_bytes)
        if media_type not in HTML_MEDIA_TYPES and not looks_like_html(body):
            raise FetchError(
                FetchErrorKind.NOT_HTML,
                f"The address returned {media_type or 'content without a type'} that is not a web page.",
                status_code=status,
            )
        return FetchResult(
            url=url,
            status_code=status,
            not_modified=False,
            body=body,
            charset=charset,
            content_type=content_type,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    async def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        reason = response.reason_phrase or _standard_reason(status)
        if status < 400:
            raise FetchError(
                FetchErrorKind.HTTP_ERROR,
                f"The shop answered {status} {reason} without a usable redirect.",
                status_code=status,
            )
        if status in BOT_WALL_STATUSES or "cf-mitigated" in response.headers:
            sample = await _read_sample(response, BOT_WALL_SAMPLE_BYTES)
            if _is_bot_wall(response.headers, sample):
                raise _bot_wall_error(status, self.blocked_hint)
        raise _status_error(status, reason)


def _standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# --- shared clients --------------------------------------------------------------------


class _PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, guard: Guard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx cannot be given a network backend, so its pool is rebuilt with the guarded one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedNetworkBackend(guard),
        )


def _refuse_all_cookies() -> CookieJar:
    # Each fetch keeps its own cookies; the shared client must not collect every shop's.
    # (A bare CookieJar, because httpx copies an httpx.Cookies into a jar without the policy.)
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def shared_client(guard: Guard, settings: Settings) -> httpx.AsyncClient:
    """The client of this process and event loop for `guard`, created on first use.

    Keyed by process id as well, so a forked worker never reuses its parent's sockets.
    """
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    key = (os.getpid(), guard, settings.fetch_concurrency)
    client = clients.get(key)
    if client is None or client.is_closed:
        concurrency = settings.fetch_concurrency
        limits = httpx.Limits(
            max_connections=max(32, 4 * concurrency),
            max_keepalive_connections=max(8, concurrency),
            keepalive_expiry=15.0,
        )
        client = httpx.AsyncClient(
            transport=_PinnedTransport(guard, limits),
            follow_redirects=False,
            trust_env=False,
            cookies=_refuse_all_cookies(),
        )
        clients[key] = client
    return client


async def close_clients() -> None:
    """Close the shared HTTP clients and browser of the running event loop (lifespan shutdown)."""
    loop = asyncio.get_running_loop()
    for client in _clients.pop(loop, {}).values():
        await client.aclose()
    await _close_browser(loop)


def _timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.fetch_connect_timeout,
        read=settings.fetch_read_timeout,
        write=settings.fetch_read_timeout,
        pool=settings.fetch_connect_timeout,
    )


def _request_headers(settings: Settings, etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {
        "User-Agent": settings.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": settings.accept_language,
    }
    # Validators are echoed back verbatim; one that is not plain ASCII cannot be sent.
    if etag and etag.isascii():
        headers["If-None-Match"] = etag
    if last_modified and last_modified.isascii():
        headers["If-Modified-Since"] = last_modified
    return headers


def _too_many_redirects(settings: Settings) -> FetchError:
    return FetchError(
        FetchErrorKind.TOO_MANY_REDIRECTS,
        f"The page redirected more than {settings.fetch_max_redirects} times.",
    )


def _total_timeout_error(settings: Settings) -> FetchError:
    return FetchError(
        FetchErrorKind.TIMEOUT,
        f"The shop took longer than {settings.fetch_total_timeout:g} seconds to send the page.",
        transient=True,
    )


# --- fetchers --------------------------------------------------------------------------

SCRAPER_API_HINT = (
    " If this keeps happening, route this shop through the scraper_api fetcher "
    '(FETCHERS={"shop.example": "scraper_api"}).'
)


def guard_for(settings: Settings) -> Guard:
    return Guard(allow_private=settings.allow_private_urls)


class DirectFetcher:
    """Plain HTTP with httpx; redirects are followed here so that each hop is checked."""

    name = "direct"

    def __init__(self, settings: Settings | None = None, *, guard: Guard | None = None) -> None:
        self.settings = settings or get_settings()
        self.guard = guard or guard_for(self.settings)
        self._reader = _PageReader(self.settings, SCRAPER_API_HINT)

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        try:
            async with asyncio.timeout(self.settings.fetch_total_timeout):
                return await self._follow(url, etag, last_modified)
        except TimeoutError as error:
            raise _total_timeout_error(self.settings) from error

    async def _follow(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        client = shared_client(self.guard, self.settings)
        headers = _request_headers(self.settings, etag, last_modified)
        timeout = _timeout(self.settings)
        cookies = httpx.Cookies()
        current = url.strip()
        for _hop in range(self.settings.fetch_max_redirects + 1):
            try:
                host = self.guard.parse(current).host
            except URLRefused as error:
                raise _refusal_error(error) from error
            with _fetch_errors(host):
                request = client.build_request("GET", current, headers=headers, timeout=timeout)
                cookies.set_cookie_header(request)
                response = await client.send(request, stream=True)
                try:
                    cookies.extract_cookies(response)
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        current = str(response.url.join(location.strip()))
                        await _drain(response)
                        continue
                    return await self._reader.read(response, str(response.url), etag, last_modified)
                finally:
                    await response.aclose()
        raise _too_many_redirects(self.settings)


class ScraperApiFetcher:
    """Hands the URL to a scraping service (settings.scraper_api_url) that fetches it for us.

    The service is trusted configuration, so its own address is not checked; the target is,
    because the service would otherwise fetch private addresses on a user's behalf.
    """

    name = "scraper_api"

    def __init__(self, settings: Settings | None = None, *, guard: Guard | None = None) -> None:
        self.settings = settings or get_settings()
        self.guard = guard or guard_for(self.settings)
        self._service_guard = Guard(allow_private=True)
        self._reader = _PageReader(self.settings, "")

    def service_url(self, url: str) -> str:
        template = self.settings.scraper_api_url
        return template.replace("{url}", quote(url, safe="")).replace(
            "{key}", quote(self.settings.scraper_api_key, safe="")
        )

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        url = url.strip()
        if "{url}" not in self.settings.scraper_api_url:
            raise FetchError(
                FetchErrorKind.UNREACHABLE,
                "This shop is set to use the scraper API, but SCRAPER_API_URL (with {url} in it) is not set.",
            )
        try:
            async with asyncio.timeout(self.settings.fetch_total_timeout):
                try:
                    await self.guard.check_url(url)
                except URLRefused as error:
                    raise _refusal_error(error) from error
                return await self._exchange(url)
        except TimeoutError as error:
            raise _total_timeout_error(self.settings) from error

    async def _exchange(self, url: str) -> FetchResult:
        client = shared_client(self._service_guard, self.settings)
        service_host = urlsplit(self.settings.scraper_api_url).hostname or "the scraper API"
        with _fetch_errors(f"the scraper API at {service_host}"):
            request = client.build_request(
                "GET",
                self.service_url(url),
                headers={"Accept": "text/html,*/*;q=0.8"},
                timeout=_timeout(self.settings),
            )
            response = await client.send(request, stream=True)
            try:
                return await self._reader.read(response, url, None, None)
            finally:
                await response.aclose()


# --- browser ---------------------------------------------------------------------------


@dataclass
class _BrowserSlot:
    lock: asyncio.Lock
    pages: asyncio.Semaphore
    playwright: Playwright | None = None
    browser: Browser | None = None


_browsers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BrowserSlot] = weakref.WeakKeyDictionary()


async def _close_browser(loop: asyncio.AbstractEventLoop) -> None:
    slot = _browsers.pop(loop, None)
    if slot is None:
        return
    if slot.browser is not None:
        with contextlib.suppress(Exception):
            await slot.browser.close()
    if slot.playwright is not None:
        with contextlib.suppress(Exception):
            await slot.playwright.stop()


def _browser_unavailable(reason: str) -> FetchError:
    return FetchError(
        FetchErrorKind.UNREACHABLE,
        f"The browser fetcher is not available: {reason}. Use the direct or scraper_api fetcher for this shop.",
    )


class BrowserFetcher:
    """Renders the page in headless Chromium, for shops that write their price with JavaScript.

    Chromium itself never reaches the network: every request it makes is answered by a route
    handler that performs it with the guarded direct client, one hop at a time.
    """

    name = "browser"

    def __init__(self, settings: Settings | None = None, *, guard: Guard | None = None) -> None:
        self.settings = settings or get_settings()
        self.guard = guard or guard_for(self.settings)

    async def _slot(self) -> _BrowserSlot:
        loop = asyncio.get_running_loop()
        slot = _browsers.get(loop)
        if slot is None:
            slot = _browsers[loop] = _BrowserSlot(
                asyncio.Lock(), asyncio.Semaphore(BROWSER_PAGES_PER_PROCESS)
            )
        async with slot.lock:
            if slot.browser is None or not slot.browser.is_connected():
                slot.playwright, slot.browser = await self._launch()
        return slot

    async def _launch(self) -> tuple[Playwright, Browser]:
        try:
            from playwright.async_api import async_playwright
        except ImportError as error:
            raise _browser_unavailable("the playwright package is not installed") from error
        executable = self.settings.browser_executable
        if not Path(executable).is_file():
            raise _browser_unavailable(f"Chromium is not installed at {executable} (BROWSER_EXECUTABLE)")
        playwright = await async_playwright().start()
        try:
            browser = await playwright.chromium.launch(
                executable_path=executable,
                args=list(BROWSER_ARGS),
                headless=True,
                # Whatever escapes the route handler (WebSockets, say) goes to a dead proxy.
                proxy={"server": BROWSER_DEAD_PROXY, "bypass": "<-loopback>"},
            )
        except Exception as error:
            await playwright.stop()
            raise _browser_unavailable(f"Chromium did not start ({error})") from error
        return playwright, browser

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        url = url.strip()
        try:
            host = self.guard.parse(url).host
        except URLRefused as error:
            raise _refusal_error(error) from error
        slot = await self._slot()
        assert slot.browser is not None
        try:
            async with slot.pages, asyncio.timeout(self.settings.fetch_total_timeout):
                return await self._render(slot.browser, url, host)
        except TimeoutError as error:
            raise _total_timeout_error(self.settings) from error

    async def _render(self, browser: Browser, url: str, host: str) -> FetchResult:
        from playwright.async_api import Error as PlaywrightError

        relay = _BrowserRelay(self.settings, self.guard)
        context = await browser.new_context(
            user_agent=self.settings.user_agent,
            extra_http_headers={"Accept-Language": self.settings.accept_language},
            service_workers="block",
        )
        try:
            await context.route("**/*", relay.handle)
            page = await context.new_page()
            response = await self._navigate(page, relay, url, host)
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_load_state("networkidle", timeout=BROWSER_SETTLE_MS)
            html = await page.content()
        finally:
            await context.close()
        return self._result(response, response.url, html)

    async def _navigate(self, page: Any, relay: _BrowserRelay, url: str, host: str) -> Any:
        """Open `url`, turning each redirect of the document into a new, checked navigation.

        Chromium follows a redirect without asking the route handler again, so the handler
        never hands it one: it stops the navigation and we start the next hop ourselves.
        """
        from playwright.async_api import Error as PlaywrightError

        current = url
        for _hop in range(self.settings.fetch_max_redirects + 1):
            relay.redirect_to = None
            try:
                response = await page.goto(current, wait_until="load", timeout=0)
            except PlaywrightError as error:
                if relay.navigation_error is not None:
                    raise relay.navigation_error from error
                if relay.redirect_to is not None:
                    current = relay.redirect_to
                    continue
                raise FetchError(
                    FetchErrorKind.UNREACHABLE,
                    f"The browser could not open {host} ({error.message}).",
                    transient=True,
                ) from error
            if response is None:
                raise FetchError(FetchErrorKind.UNREACHABLE, f"The browser got no page from {host}.")
            return response
        raise _too_many_redirects(self.settings)

    def _result(self, response: Any, final_url: str, html: str) -> FetchResult:
        status = response.status if response is not None else 200
        headers = httpx.Headers(response.headers if response is not None else {})
        if status >= 400:
            body = html.encode("utf-8", errors="replace")[:BOT_WALL_SAMPLE_BYTES]
            if status in BOT_WALL_STATUSES and _is_bot_wall(headers, body):
                raise _bot_wall_error(status, SCRAPER_API_HINT)
            raise _status_error(status, response.status_text or _standard_reason(status))
        media_type, _declared_charset = _parse_content_type(headers.get("content-type"))
        if media_type not in HTML_MEDIA_TYPES | SNIFFED_MEDIA_TYPES:
            raise FetchError(
                FetchErrorKind.NOT_HTML,
                f"The address returned {media_type}, not a web page.",
                status_code=status,
            )
        body = html.encode("utf-8", errors="replace")
        if len(body) > self.settings.fetch_max_bytes:
            raise _too_large(self.settings.fetch_max_bytes)
        return FetchResult(
            url=final_url,
            status_code=status,
            not_modified=False,
            body=body,
            charset="utf-8",  # Chromium has decoded the page already
            content_type=headers.get("content-type"),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )


class _BrowserRelay:
    """Answers Chromium's requests through the guarded client, so each hop is checked."""

    def __init__(self, settings: Settings, guard: Guard) -> None:
        self.settings = settings
        self.guard = guard
        self.navigation_error: FetchError | None = None
        self.redirect_to: str | None = None

    async def handle(self, route: Route) -> None:
        from playwright.async_api import Error as PlaywrightError

        # A page closed while its requests are in flight makes Playwright refuse the answers.
        with contextlib.suppress(PlaywrightError):
            await self._answer(route)

    async def _answer(self, route: Route) -> None:
        request = route.request
        if request.resource_type in BROWSER_SKIPPED_RESOURCES:
            await route.abort("blockedbyclient")
            return
        is_document = request.is_navigation_request() and request.frame.parent_frame is None
        try:
            status, headers, body, location = await self._relay(request, follow_redirects=not is_document)
        except FetchError as error:
            if is_document:
                self.navigation_error = error
            await route.abort("blockedbyclient" if error.kind == FetchErrorKind.BLOCKED_ADDRESS else "failed")
            return
        if location is not None:
            self.redirect_to = location
            await route.abort("aborted")
            return
        await route.fulfill(status=status, headers=headers, body=body)

    async def _relay(
        self, request: Any, *, follow_redirects: bool
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        client = shared_client(self.guard, self.settings)
        outgoing = {
            name: value
            for name, value in (await request.all_headers()).items()
            if name.lower() not in _HOP_BY_HOP_HEADERS and not name.startswith(":")
        }
        method, url, content = request.method, request.url, request.post_data_buffer
        for _hop in range(self.settings.fetch_max_redirects + 1):
            try:
                host = self.guard.parse(url).host
            except URLRefused as error:
                raise _refusal_error(error) from error
            with _fetch_errors(host):
                sent = client.build_request(
                    method, url, headers=outgoing, content=content, timeout=_timeout(self.settings)
                )
                response = await client.send(sent, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        url = str(response.url.join(location.strip()))
                        await _drain(response)
                        if not follow_redirects:
                            return response.status_code, {}, b"", url
                        if response.status_code in (301, 302, 303):
                            method, content = "GET", None
                        continue
                    body = await _read_capped(response, self.settings.fetch_max_bytes)
                finally:
                    await response.aclose()
            return response.status_code, _relayed_headers(response.headers), body, None
        raise _too_many_redirects(self.settings)


def _relayed_headers(headers: httpx.Headers) -> dict[str, str]:
    relayed: dict[str, str] = {}
    for name, value in headers.multi_items():
        if name.lower() in _HOP_BY_HOP_HEADERS:
            continue
        # Playwright takes repeated headers (Set-Cookie) joined by newlines.
        relayed[name] = f"{relayed[name]}\n{value}" if name in relayed else value
    return relayed


# --- choosing a fetcher ----------------------------------------------------------------

_FETCHER_CLASSES: Mapping[str, type[DirectFetcher | ScraperApiFetcher | BrowserFetcher]] = {
    "direct": DirectFetcher,
    "scraper_api": ScraperApiFetcher,
    "browser": BrowserFetcher,
}


def fetcher_name_for(url: str, fetchers: Mapping[str, str]) -> str:
    """The fetcher configured for the URL's shop: its host or nearest parent domain, else direct."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return "direct"
    configured = {domain.strip().strip(".").lower(): name.strip() for domain, name in fetchers.items()}
    labels = host.split(".")
    for start in range(len(labels)):
        name = configured.get(".".join(labels[start:]))
        if name is not None:
            return name
    return "direct"


def fetcher_for(url: str, settings: Settings | None = None) -> Fetcher:
    settings = settings or get_settings()
    name = fetcher_name_for(url, settings.fetchers)
    fetcher_class = _FETCHER_CLASSES.get(name)
    if fetcher_class is None:
        raise FetchError(
            FetchErrorKind.UNREACHABLE,
            f"FETCHERS names an unknown fetcher “{name}” for this shop; use one of {', '.join(_FETCHER_CLASSES)}.",
        )
    return fetcher_class(settings)


async def fetch_page(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    settings: Settings | None = None,
) -> FetchResult:
    """Fetch a product page with the shop's fetcher; raises FetchError and nothing else."""
    fetcher = fetcher_for(url, settings)
    return await fetcher.fetch(url, etag=etag, last_modified=last_modified)


def check_url_allowed(url: str, settings: Settings | None = None) -> None:
    """Refuse, before any fetch, a URL that is malformed or leads to a private address.

    Resolves the host with the system resolver (blocking): raises FetchError with kind
    INVALID_URL, BLOCKED_ADDRESS, or UNREACHABLE when the host has no address.
    """
    settings = settings or get_settings()
    try:
        guard_for(settings).check_url_sync(url)
    except URLRefused as error:
        raise _refusal_error(error) from error


__all__ = [
    "BrowserFetcher",
    "DirectFetcher",
    "FetchError",
    "FetchErrorKind",
    "FetchResult",
    "Fetcher",
    "ScraperApiFetcher",
    "check_url_allowed",
    "close_clients",
    "fetch_page",
    "fetcher_for",
    "fetcher_name_for",
]
