"""Fetch a product image: the direct fetcher's guarded exchange, limited in size and to raster images.

The image is judged by its first bytes, never by the shop's Content-Type: only JPEG, PNG, WebP,
GIF and AVIF are taken. SVG is not, since it can carry script, and neither is anything else
a shop might answer with (HTML, a redirect page, a huge file).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import httpx

from cloudtrack_app.settings import Settings, get_settings
from cloudtrack_app.tracking.fetch.base import (
    ACCEPT_ENCODING,
    FetchError,
    FetchErrorKind,
    standard_reason,
    status_error,
)
from cloudtrack_app.tracking.fetch.body import read_capped
from cloudtrack_app.tracking.fetch.direct import DirectFetcher
from cloudtrack_app.tracking.fetch.netguard import Guard

IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9,*/*;q=0.1"
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/avif")
_SNIFF_BYTES = 64
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


@dataclass(frozen=True)
class FetchedImage:
    media_type: str  # one of IMAGE_MEDIA_TYPES, read from the bytes
    data: bytes


def sniff_image_type(data: bytes) -> str | None:
    """The media type the bytes start like, among IMAGE_MEDIA_TYPES; None for anything else."""
    head = data[:_SNIFF_BYTES]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        # ISO media file: the major brand, then the compatible brands, up to the box's end.
        box_end = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "image/avif"
    return None


def image_request_headers(settings: Settings) -> dict[str, str]:
    # No Referer and no cookies: the shop learns nothing about CloudTrack or its users.
    return {
        "User-Agent": settings.user_agent,
        "Accept": IMAGE_ACCEPT,
        "Accept-Encoding": ACCEPT_ENCODING,
        "Connection": "keep-alive",
    }


async def _read_image(response: httpx.Response, *, limit: int) -> FetchedImage:
    status = response.status_code
    if status != 200:
        raise status_error(status, response.reason_phrase or standard_reason(status))
    try:
        data = await read_capped(response, limit)
    except FetchError as error:
        if error.kind != FetchErrorKind.TOO_LARGE:
            raise
        raise FetchError(
            FetchErrorKind.TOO_LARGE, f"The product image is larger than {limit / 1_000_000:g} MB."
        ) from error
    media_type = sniff_image_type(data)
    if media_type is None:
        raise FetchError(
            FetchErrorKind.NOT_AN_IMAGE,
            "The shop's product image is not a JPEG, PNG, WebP, GIF or AVIF picture.",
            status_code=status,
        )
    return FetchedImage(media_type, data)


async def fetch_image(
    url: str, *, settings: Settings | None = None, guard: Guard | None = None
) -> FetchedImage:
    """The image at `url`, every redirect hop checked by the guard; raises FetchError."""
    settings = settings or get_settings()
    fetcher = DirectFetcher(settings, guard=guard)
    return await fetcher.follow(
        url, image_request_headers(settings), partial(_read_image, limit=settings.image_max_bytes)
    )
