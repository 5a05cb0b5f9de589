"""The fetchers as one family: which one a shop uses, the one call that fetches, and shutdown.

Callers never pick a fetcher class themselves; FETCHERS in the settings maps a shop to one,
and `fetch_page` is the only way in, so every page goes through the guard whichever is chosen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.fetch.base import (
    Fetcher,
    FetchError,
    FetchErrorKind,
    FetchResult,
    close_shared_clients,
    guard_for,
    refusal_error,
)
from cloudtrack_app.tracking.fetch.browser import BrowserFetcher, close_browser
from cloudtrack_app.tracking.fetch.direct import DirectFetcher
from cloudtrack_app.tracking.fetch.netguard import URLRefused
from cloudtrack_app.tracking.fetch.scraper_api import ScraperApiFetcher

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
        raise refusal_error(error) from error


async def close_clients() -> None:
    """Close the shared HTTP clients and browser of the running event loop (lifespan shutdown)."""
    loop = asyncio.get_running_loop()
    await close_shared_clients(loop)
    await close_browser(loop)
