"""A fetcher for shops that write their price with JavaScript: the page rendered in headless Chromium.

Playwright is imported only when a page is rendered, so the other fetchers (and every command
that imports this package) work without it. Chromium never reaches the network itself: its
requests are relayed through the guarded client, one checked hop at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.fetch.base import (
    BOT_WALL_SAMPLE_BYTES,
    BOT_WALL_STATUSES,
    HTML_MEDIA_TYPES,
    REDIRECT_STATUSES,
    SCRAPER_API_HINT,
    SNIFFED_MEDIA_TYPES,
    FetchError,
    FetchErrorKind,
    FetchResult,
    bot_wall_error,
    fetch_errors,
    guard_for,
    is_bot_wall,
    parse_content_type,
    refusal_error,
    request_timeout,
    shared_client,
    standard_reason,
    status_error,
    too_large,
    too_many_redirects,
    total_timeout_error,
)
from cloudtrack_app.tracking.fetch.body import drain, read_capped
from cloudtrack_app.tracking.fetch.netguard import Guard, URLRefused

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Route

BROWSER_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebRTC sends its STUN/TURN datagrams itself, past the route handler and the proxy: a page
    # could reach any UDP port of this machine or its network. UDP is allowed only through a
    # proxy, and the proxy is dead (BROWSER_DEAD_PROXY), so WebRTC sends nothing.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
)
BROWSER_PAGES_PER_PROCESS = 2
BROWSER_SETTLE_MS = 3000
BROWSER_DEAD_PROXY = "http://0.0.0.0:1"
CHROMIUM_CONNECTIONS_PER_HOST = 6  # its limit for HTTP/1.1
BROWSER_SKIPPED_RESOURCES = frozenset({"image", "media", "font"})
_HOP_BY_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "host", "upgrade"}
)


@dataclass
class _BrowserSlot:
    lock: asyncio.Lock
    pages: asyncio.Semaphore
    playwright: Playwright | None = None
    browser: Browser | None = None


_browsers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BrowserSlot] = weakref.WeakKeyDictionary()


async def close_browser(loop: asyncio.AbstractEventLoop) -> None:
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
            raise refusal_error(error) from error
        slot = await self._slot()
        assert slot.browser is not None
        try:
            async with slot.pages, asyncio.timeout(self.settings.fetch_total_timeout):
                return await self._render(slot.browser, url, host)
        except TimeoutError as error:
            raise total_timeout_error(self.settings) from error

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
        raise too_many_redirects(self.settings)

    def _result(self, response: Any, final_url: str, html: str) -> FetchResult:
        status = response.status if response is not None else 200
        headers = httpx.Headers(response.headers if response is not None else {})
        if status >= 400:
            body = html.encode("utf-8", errors="replace")[:BOT_WALL_SAMPLE_BYTES]
            if status in BOT_WALL_STATUSES and is_bot_wall(headers, body):
                raise bot_wall_error(status, SCRAPER_API_HINT)
            raise status_error(status, response.status_text or standard_reason(status))
        media_type, _declared_charset = parse_content_type(headers.get("content-type"))
        if media_type not in HTML_MEDIA_TYPES | SNIFFED_MEDIA_TYPES:
            raise FetchError(
                FetchErrorKind.NOT_HTML,
                f"The address returned {media_type}, not a web page.",
                status_code=status,
            )
        body = html.encode("utf-8", errors="replace")
        if len(body) > self.settings.fetch_max_bytes:
            raise too_large(self.settings.fetch_max_bytes)
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
        # Chromium loads a page's parts over several connections per host at once.
        client = shared_client(
            self.guard,
            self.settings,
            idle_per_origin=max(CHROMIUM_CONNECTIONS_PER_HOST, self.settings.per_shop_concurrency),
        )
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
                raise refusal_error(error) from error
            with fetch_errors(host):
                sent = client.build_request(
                    method, url, headers=outgoing, content=content, timeout=request_timeout(self.settings)
                )
                response = await client.send(sent, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        url = str(response.url.join(location.strip()))
                        await drain(response)
                        if not follow_redirects:
                            return response.status_code, {}, b"", url
                        if response.status_code in (301, 302, 303):
                            method, content = "GET", None
                        continue
                    body = await read_capped(response, self.settings.fetch_max_bytes)
                finally:
                    await response.aclose()
            return response.status_code, _relayed_headers(response.headers), body, None
        raise too_many_redirects(self.settings)


def _relayed_headers(headers: httpx.Headers) -> dict[str, str]:
    relayed: dict[str, str] = {}
    for name, value in headers.multi_items():
        if name.lower() in _HOP_BY_HOP_HEADERS:
            continue
        # Playwright takes repeated headers (Set-Cookie) joined by newlines.
        relayed[name] = f"{relayed[name]}\n{value}" if name in relayed else value
    return relayed
