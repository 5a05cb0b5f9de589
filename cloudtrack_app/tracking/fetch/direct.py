"""The default fetcher: the page straight from the shop over the guarded connection pool.

Redirects are followed here rather than by httpx, so that every hop is checked by the guard
before a connection is made to it. Requests go to the shared client's transport directly:
the client's layers (redirects, auth, cookie jar, hooks) are not needed here and cost about
as much CPU as the exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.fetch.base import (
    REDIRECT_STATUSES,
    SCRAPER_API_HINT,
    FetchResult,
    fetch_errors,
    guard_for,
    refusal_error,
    request_headers,
    request_timeout,
    shared_transport,
    too_many_redirects,
    total_timeout_error,
)
from cloudtrack_app.tracking.fetch.body import ResponseBodyReader, drain
from cloudtrack_app.tracking.fetch.netguard import Guard, URLRefused

T = TypeVar("T")
# Reads the final (non-redirect) response of an exchange; the response is closed afterwards.
FinalReader = Callable[[httpx.Response], Awaitable[T]]


class DirectFetcher:
    """Plain HTTP with httpx; redirects are followed here so that each hop is checked."""

    name = "direct"

    def __init__(self, settings: Settings | None = None, *, guard: Guard | None = None) -> None:
        self.settings = settings or get_settings()
        self.guard = guard or guard_for(self.settings)
        self._reader = ResponseBodyReader(self.settings, SCRAPER_API_HINT)

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        try:
            async with asyncio.timeout(self.settings.fetch_total_timeout):
                return await self.follow(
                    url,
                    request_headers(self.settings, etag, last_modified),
                    lambda response: self._reader.read(response, str(response.url), etag, last_modified),
                )
        except TimeoutError as error:
            raise total_timeout_error(self.settings) from error

    async def follow(self, url: str, headers: dict[str, str], read: FinalReader[T]) -> T:
        """GET `url`, following redirects with each hop checked, and `read` the final response.

        Also the way product images are fetched (`tracking/images.py`), with their own reader.
        """
        transport = shared_transport(self.guard, self.settings)
        extensions = {"timeout": request_timeout(self.settings).as_dict()}
        cookies = httpx.Cookies()
        current = url.strip()
        for _hop in range(self.settings.fetch_max_redirects + 1):
            try:
                host = self.guard.parse(current).host
            except URLRefused as error:
                raise refusal_error(error) from error
            with fetch_errors(host):
                request = httpx.Request("GET", current, headers=headers, extensions=extensions)
                # The cookie jar's request and response adapters cost more CPU than a request on
                # a kept-alive connection, and most product pages set no cookie.
                if cookies:
                    cookies.set_cookie_header(request)
                response = await transport.handle_async_request(request)
                response.request = request
                try:
                    if "set-cookie" in response.headers:
                        cookies.extract_cookies(response)
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        current = str(response.url.join(location.strip()))
                        await drain(response)
                        continue
                    return await read(response)
                finally:
                    await response.aclose()
        raise too_many_redirects(self.settings)
