"""A fetcher for shops that turn plain HTTP away with a bot wall.

Such shops are routed here in FETCHERS; a scraping service with its own ways past the wall
fetches the page, and CloudTrack only reads what it hands back.

The service follows the shop's redirects itself, out of CloudTrack's reach: a shop may send it
to a private address of the service's own network. CloudTrack checks the target before asking,
and the final URL when the service reports one in a header it knows (`FINAL_URL_HEADERS`);
a service that reports none cannot be checked after its redirects.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlsplit

import httpx

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.fetch.base import (
    FetchError,
    FetchErrorKind,
    FetchResult,
    fetch_errors,
    guard_for,
    refusal_error,
    request_timeout,
    shared_client,
    total_timeout_error,
)
from cloudtrack_app.tracking.fetch.body import ResponseBodyReader
from cloudtrack_app.tracking.fetch.netguard import Guard, URLRefused

# Where scraping services report the URL they ended on after following redirects:
# ScraperAPI, ScrapingBee, ZenRows, ScrapeOps, Oxylabs, WebScrapingAPI, and a generic name.
FINAL_URL_HEADERS = (
    "sa-final-url",
    "spb-resolved-url",
    "zr-final-url",
    "sops-final-url",
    "x-oxylabs-final-url",
    "wsa-scraped-resolved-url",
    "x-final-url",
)


def reported_final_urls(headers: httpx.Headers) -> list[str]:
    """Every final URL the service reports, in any header it may use."""
    return [value.strip() for name in FINAL_URL_HEADERS for value in headers.get_list(name) if value.strip()]


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
        self._reader = ResponseBodyReader(self.settings, "")

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
                    raise refusal_error(error) from error
                return await self._exchange(url)
        except TimeoutError as error:
            raise total_timeout_error(self.settings) from error

    async def _exchange(self, url: str) -> FetchResult:
        # Every shop's pages go to the one service origin, as many at once as fetches run.
        client = shared_client(
            self._service_guard, self.settings, idle_per_origin=self.settings.fetch_concurrency
        )
        service_host = urlsplit(self.settings.scraper_api_url).hostname or "the scraper API"
        with fetch_errors(f"the scraper API at {service_host}"):
            request = client.build_request(
                "GET",
                self.service_url(url),
                headers={"Accept": "text/html,*/*;q=0.8"},
                timeout=request_timeout(self.settings),
            )
            response = await client.send(request, stream=True)
            try:
                await self._check_final_urls(response)
                return await self._reader.read(response, url, None, None)
            finally:
                await response.aclose()

    async def _check_final_urls(self, response: httpx.Response) -> None:
        """Refuse the page when the service says the shop's redirects ended on a private address."""
        for final_url in reported_final_urls(response.headers):
            try:
                await self.guard.check_url(final_url)
            except URLRefused as error:
                raise refusal_error(error) from error
