"""Product images: which image URLs are kept, and the images fetched, cached and served by CloudTrack.

A shop chooses its image URL and bytes. Shown as they are, the URL could point into the
server's network or use any scheme (`file:`, `JAVASCRIPT:`), and every viewer's browser would
fetch it from the shop, telling the shop who is looking and sending CloudTrack's address as
the Referer. So CloudTrack keeps only http(s) URLs, fetches the image itself through the same
address guard as pages (`fetch.image`, checked again at each fetch since DNS answers change),
keeps it only when its bytes are a JPEG, PNG, WebP, GIF or AVIF, caches it under the data
folder, and serves it from its own address. Pages and mail only ever show those addresses.

The addresses are signed with the server's key: `/img/product/<id>/<signature>` for a saved
product, `/img/preview/<signature>?u=<url>` for a page being added. The route needs no log-in
(an `<img>` request carries no session, and mail clients fetch images without one), but no
one can guess an address, so product ids do not reveal what is tracked, and the route is no
open proxy: it fetches only URLs CloudTrack itself read from a shop's page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from cloudtrack_app.settings import Settings, create_private_file, get_settings, make_private_dir
from cloudtrack_app.tracking.fetch.base import FetchError, guard_for
from cloudtrack_app.tracking.fetch.image import FetchedImage, fetch_image
from cloudtrack_app.tracking.fetch.netguard import Guard, URLRefused

log = logging.getLogger(__name__)

PRODUCT_IMAGE_PREFIX = "/img/product"
PREVIEW_IMAGE_PREFIX = "/img/preview"
IMAGE_URL_MAX_CHARS = 2048
# An image that could not be fetched is not asked for again for this long.
IMAGE_RETRY_SECONDS = 3600
# Image fetches at once per process: a dashboard of new products must not open a connection
# per card to the shops.
IMAGE_FETCH_CONCURRENCY = 4
_PRODUCT_PURPOSE = b"cloudtrack-product-image-v1"
_PREVIEW_PURPOSE = b"cloudtrack-preview-image-v1"
_CACHE_SUFFIX = ".img"
_FAILED_SUFFIX = ".failed"


# --- which URLs are kept ----------------------------------------------------------------


def storable_image_url(url: str | None, settings: Settings | None = None) -> str | None:
    """`url` when it may be kept as a product's image: http(s), with a host that is not a
    private address written out; None otherwise. Host names are resolved at fetch time."""
    if not url:
        return None
    url = url.strip()
    if not url or len(url) > IMAGE_URL_MAX_CHARS:
        return None
    settings = settings or get_settings()
    try:
        Guard(allow_private=settings.allow_private_urls).parse(url)
    except URLRefused:
        return None
    return url


# --- signed addresses on CloudTrack -------------------------------------------------------


@lru_cache(maxsize=8)
def _purpose_key(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _signature(purpose: bytes, value: str, settings: Settings) -> str:
    digest = hmac.new(_purpose_key(settings.effective_secret_key, purpose), value.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def product_image_path(product_id: int, image_url: str | None, settings: Settings | None = None) -> str:
    """Where CloudTrack serves the product's image ("" when it has no usable one).

    `v` changes with the image URL, so browsers and mail clients fetch a changed image anew.
    """
    settings = settings or get_settings()
    if storable_image_url(image_url, settings) is None:
        return ""
    signature = _signature(_PRODUCT_PURPOSE, str(product_id), settings)
    return f"{PRODUCT_IMAGE_PREFIX}/{product_id}/{signature}?v={_url_hash(image_url or '')[:12]}"


def product_image_url(product_id: int, image_url: str | None, settings: Settings | None = None) -> str:
    """The absolute address of the product's image (PUBLIC_URL), for mail; "" when none."""
    settings = settings or get_settings()
    path = product_image_path(product_id, image_url, settings)
    return f"{settings.public_url.rstrip('/')}{path}" if path else ""


def preview_image_path(image_url: str | None, settings: Settings | None = None) -> str:
    """Where CloudTrack serves the image of a page being added, before any product exists."""
    settings = settings or get_settings()
    url = storable_image_url(image_url, settings)
    if url is None:
        return ""
    return f"{PREVIEW_IMAGE_PREFIX}/{_signature(_PREVIEW_PURPOSE, url, settings)}?u={quote(url, safe='')}"


def product_signature_valid(product_id: int, signature: str, settings: Settings | None = None) -> bool:
    expected = _signature(_PRODUCT_PURPOSE, str(product_id), settings or get_settings())
    return hmac.compare_digest(signature.encode(), expected.encode())


def preview_signature_valid(image_url: str, signature: str, settings: Settings | None = None) -> bool:
    expected = _signature(_PREVIEW_PURPOSE, image_url, settings or get_settings())
    return hmac.compare_digest(signature.encode(), expected.encode())


# --- the cache on disk --------------------------------------------------------------------


def product_cache_key(product_id: int, image_url: str) -> str:
    """Per product and image URL: a product whose image URL changes gets its new image."""
    return f"product-{product_id}-{_url_hash(image_url)[:24]}"


def product_cache_prefix(product_id: int) -> str:
    return f"product-{product_id}-"


def preview_cache_key(image_url: str) -> str:
    return f"url-{_url_hash(image_url)[:32]}"


@dataclass(frozen=True)
class CachedImage:
    media_type: str
    data: bytes


class ImageCache:
    """Images as files `<key>.img` (media type, a newline, the bytes), 0600 in a 0700 folder.

    Bounded: after each write the least recently shown images go until the total fits.
    Files are replaced atomically, so several workers sharing the folder never read half a file.
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def _path(self, key: str, suffix: str = _CACHE_SUFFIX) -> Path:
        return self.directory / f"{key}{suffix}"

    def read(self, key: str) -> CachedImage | None:
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        media_type, _, data = raw.partition(b"\n")
        with contextlib.suppress(OSError):
            os.utime(path)  # recently shown: evicted last
        return CachedImage(media_type.decode("ascii", "replace"), data)

    def failed_recently(self, key: str) -> bool:
        try:
            failed_at = self._path(key, _FAILED_SUFFIX).stat().st_mtime
        except FileNotFoundError:
            return False
        return time.time() - failed_at < IMAGE_RETRY_SECONDS

    def write(self, key: str, image: FetchedImage, *, replaces_prefix: str | None = None) -> None:
        make_private_dir(self.directory)
        temporary = self.directory / f".{key}.{secrets.token_hex(6)}.tmp"
        create_private_file(temporary, image.media_type.encode() + b"\n" + image.data)
        os.replace(temporary, self._path(key))
        with contextlib.suppress(FileNotFoundError):
            self._path(key, _FAILED_SUFFIX).unlink()
        if replaces_prefix:
            for old in self.directory.glob(f"{replaces_prefix}*"):
                if old.name != self._path(key).name:
                    with contextlib.suppress(FileNotFoundError):
                        old.unlink()
        self.evict()

    def mark_failed(self, key: str) -> None:
        make_private_dir(self.directory)
        marker = self._path(key, _FAILED_SUFFIX)
        if not create_private_file(marker):
            os.utime(marker)

    def evict(self) -> None:
        """Delete the least recently shown images until the cache fits in `max_bytes`."""
        entries = []
        for path in self.directory.glob(f"*{_CACHE_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                status = path.stat()
                entries.append((status.st_mtime, status.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size

    def total_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.directory.glob(f"*{_CACHE_SUFFIX}"))


def image_cache(settings: Settings | None = None) -> ImageCache:
    settings = settings or get_settings()
    return ImageCache(settings.data_dir / "images", settings.image_cache_max_bytes)


# --- loading: from the cache, or fetched once ----------------------------------------------


@dataclass
class _Loading:
    slots: asyncio.Semaphore
    in_flight: dict[str, asyncio.Task[CachedImage | None]]


_loading: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loading] = weakref.WeakKeyDictionary()


def _loading_of_this_loop() -> _Loading:
    loop = asyncio.get_running_loop()
    loading = _loading.get(loop)
    if loading is None:
        loading = _loading[loop] = _Loading(asyncio.Semaphore(IMAGE_FETCH_CONCURRENCY), {})
    return loading


async def load_image(
    key: str,
    image_url: str,
    *,
    replaces_prefix: str | None = None,
    settings: Settings | None = None,
    guard: Guard | None = None,
) -> CachedImage | None:
    """The image for `key`: from the cache, else fetched from `image_url` (once however many
    ask at the same time) and cached. None when it cannot be had; a failure is remembered
    for IMAGE_RETRY_SECONDS so that a broken image costs the shop one request an hour."""
    settings = settings or get_settings()
    cache = image_cache(settings)
    cached = await asyncio.to_thread(cache.read, key)
    if cached is not None:
        return cached
    if await asyncio.to_thread(cache.failed_recently, key):
        return None
    loading = _loading_of_this_loop()
    task = loading.in_flight.get(key)
    if task is None:
        task = asyncio.create_task(
            _fetch_into_cache(cache, key, image_url, replaces_prefix, settings, guard or guard_for(settings)),
            name=f"cloudtrack-image-{key}",
        )
        loading.in_flight[key] = task
        task.add_done_callback(lambda _done: loading.in_flight.pop(key, None))
    # Shielded: a viewer who leaves the page does not cancel a fetch others may be waiting for.
    return await asyncio.shield(task)


async def _fetch_into_cache(
    cache: ImageCache,
    key: str,
    image_url: str,
    replaces_prefix: str | None,
    settings: Settings,
    guard: Guard,
) -> CachedImage | None:
    async with _loading_of_this_loop().slots:
        try:
            async with asyncio.timeout(settings.image_fetch_timeout):
                image = await fetch_image(image_url, settings=settings, guard=guard)
        except (FetchError, TimeoutError) as error:
            reason = error.message if isinstance(error, FetchError) else "it took too long"
            log.info("Product image %s not kept: %s", key, reason)
            await asyncio.to_thread(cache.mark_failed, key)
            return None
    await asyncio.to_thread(cache.write, key, image, replaces_prefix=replaces_prefix)
    return CachedImage(image.media_type, image.data)
