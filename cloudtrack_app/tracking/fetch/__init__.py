"""Fetch a product page: one guarded HTTP exchange with size, time and redirect limits.

`fetch_page` is the entry point. It picks a fetcher for the shop (`settings.fetchers`), and
every fetcher enforces the address guard of `netguard`: the direct fetcher connects only to
checked addresses, the scraper API fetcher checks the target before handing it over, and
the browser fetcher sends each of Chromium's requests through the direct client.

The modules: `base` (result, errors, response checks, shared client), `body` (capped
reading and inflating), `direct`, `scraper_api` and `browser` (one fetcher each), `image`
(product images, over the direct fetcher's guarded exchange), `choose` (picking a fetcher,
the entry point, shutdown) and `netguard` (the address guard).
"""

from cloudtrack_app.tracking.fetch.base import (
    PRIVATE_NETWORK_HINT,
    Fetcher,
    FetchError,
    FetchErrorKind,
    FetchResult,
    shared_client,
)
from cloudtrack_app.tracking.fetch.browser import BROWSER_ARGS, BrowserFetcher
from cloudtrack_app.tracking.fetch.choose import (
    check_url_allowed,
    close_clients,
    fetch_page,
    fetcher_for,
    fetcher_name_for,
)
from cloudtrack_app.tracking.fetch.direct import DirectFetcher
from cloudtrack_app.tracking.fetch.scraper_api import ScraperApiFetcher

__all__ = [
    "BROWSER_ARGS",
    "PRIVATE_NETWORK_HINT",
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
    "shared_client",
]
