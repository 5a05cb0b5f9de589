"""Read a response body within its size cap, inflating it ourselves, and judge the final response.

A shop page is hostile input: its declared size may lie and a few compressed kilobytes may
inflate to gigabytes, so the body is inflated here chunk by chunk and refused (or cut) the
moment it passes the cap, instead of by httpx all at once.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import brotli
import httpx

from cloudtrack_app.settings import Settings
from cloudtrack_app.tracking.extract.page import looks_like_html
from cloudtrack_app.tracking.fetch.base import (
    BOT_WALL_SAMPLE_BYTES,
    BOT_WALL_STATUSES,
    HTML_MEDIA_TYPES,
    SNIFFED_MEDIA_TYPES,
    FetchError,
    FetchErrorKind,
    FetchResult,
    bot_wall_error,
    is_bot_wall,
    parse_content_type,
    standard_reason,
    status_error,
    too_large,
)

DRAIN_BYTES = 64 * 1024
_INFLATED_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br"})


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
    # Pieces are joined once at the end: growing one buffer copies the page again and again
    # as it grows (and joining a single piece returns it without a copy).
    pieces: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        chunk = raw
        try:
            for inflater in inflaters:
                chunk = inflater.feed(chunk, limit - size)
        except (zlib.error, brotli.error) as error:
            raise FetchError(
                FetchErrorKind.UNREACHABLE, "The shop sent a damaged compressed page.", transient=True
            ) from error
        pieces.append(chunk)
        size += len(chunk)
        if size > limit:
            if truncate:
                return b"".join(pieces)[:limit]
            raise too_large(limit)
    return b"".join(pieces)


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    return await _read_decoded(response, limit)


async def _read_sample(response: httpx.Response, limit: int) -> bytes:
    try:
        return await _read_decoded(response, limit, truncate=True)
    except (httpx.HTTPError, FetchError):
        return b""


async def drain(response: httpx.Response, limit: int = DRAIN_BYTES) -> None:
    """Read a small leftover body to its end, so that the connection can be reused."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            return


@dataclass(frozen=True)
class ResponseBodyReader:
    """Turns a streamed final response into a FetchResult or a FetchError."""

    settings: Settings
    blocked_hint: str

    async def read(
        self, response: httpx.Response, url: str, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        status = response.status_code
        content_type = response.headers.get("content-type")
        if status == 304:
            await drain(response)
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
        media_type, charset = parse_content_type(content_type)
        if media_type not in HTML_MEDIA_TYPES | SNIFFED_MEDIA_TYPES:
            raise FetchError(
                FetchErrorKind.NOT_HTML,
                f"The address returned {media_type}, not a web page.",
                status_code=status,
            )
        body = await read_capped(response, self.settings.fetch_max_bytes)
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
        reason = response.reason_phrase or standard_reason(status)
        if status < 400:
            raise FetchError(
                FetchErrorKind.HTTP_ERROR,
                f"The shop answered {status} {reason} without a usable redirect.",
                status_code=status,
            )
        if status in BOT_WALL_STATUSES or "cf-mitigated" in response.headers:
            sample = await _read_sample(response, BOT_WALL_SAMPLE_BYTES)
            if is_bot_wall(response.headers, sample):
                raise bot_wall_error(status, self.blocked_hint)
        raise status_error(status, reason)
