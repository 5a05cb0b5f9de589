"""A local shop: real saved product pages served over HTTP on 127.0.0.1, for tests and benchmarks.

    with LocalShop(latency=0.05) as shop:
        url = shop.add_corpus_page("/p/viking", "zpeb_2b9b46483ad6335f")
        shop.set_price("/p/viking", Decimal("11.99"))
        shop.set_availability("/p/viking", "OutOfStock")
        shop.request_count("/p/viking")

The server runs an asyncio loop in a background thread, so it works the same from sync
tests and from async code (`async with LocalShop() as shop:`). Price and availability
rewrites touch the page's structured data (JSON-LD, microdata `itemprop`, OpenGraph /
product meta tags), not its visible text; a sold-out page also has its buttons disabled. Each page has an ETag (a hash of its current
bytes) and conditional requests get 304 while the page is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Self

from cloudtrack_app.settings import PROJECT_ROOT

CORPUS_DIR = PROJECT_ROOT.parent / "shared" / "corpus" / "product-pages"
MAX_REQUEST_HEAD = 64 * 1024

_SCHEMA_AVAILABILITY = (
    "InStock|OutOfStock|PreOrder|PreSale|BackOrder|SoldOut|LimitedAvailability|Discontinued|"
    "InStoreOnly|OnlineOnly|MadeToOrder"
)
_LD_JSON_BLOCK = re.compile(
    r"(<script[^>]*application/ld\+json[^>]*>)(.*?)(</script>)", re.IGNORECASE | re.DOTALL
)
# A separator is part of the number only when digits follow: `"price":13.4,` ends at the 4.
_LD_PRICE = re.compile(r'("(?:price|lowPrice|highPrice)"\s*:\s*)("?)(-?\d+(?:[.,]\d+)*)("?)')
_LD_AVAILABILITY = re.compile(
    rf'("availability"\s*:\s*")((?:https?:\\?/\\?/schema\.org\\?/)?)({_SCHEMA_AVAILABILITY})(")'
)
_TAG = re.compile(r"<[a-z][a-z0-9]*\b[^>]*>", re.IGNORECASE)
_CONTENT = re.compile(r'(\scontent\s*=\s*["\'])([^"\']*)(["\'])', re.IGNORECASE)
_SCHEMA_URL = re.compile(rf"(schema\.org/)({_SCHEMA_AVAILABILITY})\b")
_PRICE_TAG = re.compile(
    r"""itemprop\s*=\s*["']price["']|property\s*=\s*["'](?:og|product):price:amount["']""", re.IGNORECASE
)
_AVAILABILITY_META = re.compile(r"""property\s*=\s*["'](?:og|product):availability["']""", re.IGNORECASE)

_DECIMAL_PART = re.compile(r"([.,])(\d{1,2})$")
_VISIBLE_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,\u00a0 ]\d{3})*(?:[.,]\d{1,2})?(?![\w]|[.,]\d)")

_BUTTON = re.compile(r"<button\b", re.IGNORECASE)
_SOLD_OUT_BUTTON = '<button disabled data-sold-out=""'
_SOLD_OUT_STATES = frozenset({"OutOfStock", "SoldOut", "Discontinued", "BackOrder"})

AVAILABILITY_ALIASES = {
    "in_stock": "InStock",
    "out_of_stock": "OutOfStock",
    "instock": "InStock",
    "outofstock": "OutOfStock",
}


def schema_availability(value: str) -> str:
    """'in_stock' / 'InStock' / 'https://schema.org/InStock' → 'InStock'."""
    name = value.rsplit("/", 1)[-1]
    return AVAILABILITY_ALIASES.get(name.lower(), name)


def _number_value(token: str) -> tuple[Decimal, str | None, str | None] | None:
    """A displayed number's value, decimal separator and grouping separator."""
    match = _DECIMAL_PART.search(token)
    decimal_mark = match[1] if match else None
    whole = token[: match.start()] if match else token
    groups = {c for c in whole if not c.isdigit()}
    if len(groups) > 1 or (decimal_mark and decimal_mark in groups):
        return None
    group = groups.pop() if groups else None
    digits = "".join(c for c in whole if c.isdigit()) + ("." + match[2] if match else "")
    return Decimal(digits), decimal_mark, group


def _display(price: Decimal, decimal_mark: str | None, group: str | None, places: int) -> str:
    text = f"{price:,.{places}f}" if group else f"{price:.{places}f}"
    return text.replace(",", "\0").replace(".", decimal_mark or ".").replace("\0", group or "")


def _structured_price(html: str) -> Decimal | None:
    for block in _LD_JSON_BLOCK.finditer(html):
        found = _LD_PRICE.search(block[2])
        if found:
            value = _number_value(found[3])
            return value[0] if value else None
    for tag in _TAG.finditer(html):
        if _PRICE_TAG.search(tag[0]):
            content = _CONTENT.search(tag[0])
            value = _number_value(content[2].strip()) if content else None
            if value:
                return value[0]
    return None


def rewrite_price(html: str, price: Decimal, old_price: Decimal | None = None) -> str:
    """The page with its price set to `price` in the structured data, and in the visible text
    wherever the old price (`old_price`, or the structured data's) is written."""
    old_price = old_price if old_price is not None else _structured_price(html)
    text = format(price, "f")

    def ld_block(match: re.Match[str]) -> str:
        body = _LD_PRICE.sub(lambda m: f"{m[1]}{m[2]}{text}{m[4]}", match[2])
        return match[1] + body + match[3]

    def tag(match: re.Match[str]) -> str:
        if not _PRICE_TAG.search(match[0]):
            return match[0]
        return _CONTENT.sub(lambda m: f"{m[1]}{text}{m[3]}", match[0], count=1)

    def visible(match: re.Match[str]) -> str:
        value = _number_value(match[0])
        if value is None or value[0] != old_price:
            return match[0]
        _, decimal_mark, group = value
        places = len(match[0].rsplit(decimal_mark, 1)[1]) if decimal_mark else 0
        if places == 0 and price != price.to_integral():
            places, decimal_mark = 2, decimal_mark or ("," if group == "." else ".")
        return _display(price, decimal_mark, group, places)

    html = _TAG.sub(tag, _LD_JSON_BLOCK.sub(ld_block, html))
    if old_price is None:
        return html
    return _VISIBLE_NUMBER.sub(visible, html)


def rewrite_availability(html: str, availability: str) -> str:
    """The page with every structured-data availability set to `availability` (schema.org name)."""
    name = schema_availability(availability)
    meta_value = {"InStock": "instock", "OutOfStock": "oos"}.get(name, name.lower())

    def ld_block(match: re.Match[str]) -> str:
        body = _LD_AVAILABILITY.sub(lambda m: f"{m[1]}{m[2]}{name}{m[4]}", match[2])
        return match[1] + body + match[3]

    def tag(match: re.Match[str]) -> str:
        if _AVAILABILITY_META.search(match[0]):
            return _CONTENT.sub(lambda m: f"{m[1]}{meta_value}{m[3]}", match[0], count=1)
        return match[0]

    html = _LD_JSON_BLOCK.sub(ld_block, html)
    html = _SCHEMA_URL.sub(lambda m: f"{m[1]}{name}", html)
    # A shop that sells out turns its buy button off too, as the extractor checks the
    # structured data against it; selling again turns it back on.
    html = html.replace(_SOLD_OUT_BUTTON, "<button")
    if name in _SOLD_OUT_STATES:
        html = _BUTTON.sub(_SOLD_OUT_BUTTON, html)
    return _TAG.sub(tag, html)


def corpus_page(page_id: str, corpus_dir: Path = CORPUS_DIR) -> str:
    """A saved page's text (the corpus pages are gzipped UTF-8 or close to it)."""
    raw = gzip.decompress((corpus_dir / "pages" / f"{page_id}.html.gz").read_bytes())
    return raw.decode("utf-8", errors="replace")


def page_etag(html: str) -> str:
    """The ETag the shop sends for a page with this text."""
    return '"' + hashlib.blake2b(html.encode("utf-8"), digest_size=12).hexdigest() + '"'


@dataclass
class _Page:
    html: str
    content_type: str
    body: bytes = b""
    etag: str = ""
    status: int | None = None

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.body = self.html.encode("utf-8")
        self.etag = page_etag(self.html)


class LocalShop:
    """An HTTP/1.1 server on `host` (127.0.0.1 by default; any 127.0.0.x works on Linux)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        etags: bool = True,
        visit_tokens: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency  # seconds added before each answer
        self.etags = etags  # send ETags and answer If-None-Match with 304
        # Write a token of each visit into the page, as shops do with session and CSRF
        # tokens: no two answers are the same bytes.
        self.visit_tokens = visit_tokens
        self._visits = 0
        self._pages: dict[str, _Page] = {}
        self._counts: Counter[str] = Counter()
        self.in_flight = 0  # requests being answered right now
        self.peak_in_flight = 0  # the most at once since start (or `reset_counts`)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    # --- pages -------------------------------------------------------------------------
    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def base_url(self) -> str:
        return self.url("")

    def add_page(self, path: str, html: str, *, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve `html` at `path` (path and query, as requested); returns its full URL."""
        with self._lock:
            self._pages[path] = _Page(html, content_type)
        return self.url(path)

    def add_corpus_page(self, path: str, page_id: str, corpus_dir: Path = CORPUS_DIR) -> str:
        return self.add_page(path, corpus_page(page_id, corpus_dir))

    def serve_pages_of(self, other: LocalShop) -> None:
        """Serve `other`'s pages (one copy in memory for several hosts); counts stay separate."""
        self._pages = other._pages

    def add_alias(self, path: str, existing_path: str) -> str:
        """Serve the page at `existing_path` at `path` too (one page: edits show at both)."""
        with self._lock:
            self._pages[path] = self._pages[existing_path]
        return self.url(path)

    def _edit(self, path: str, html: str) -> None:
        with self._lock:
            page = self._pages[path]
            page.html = html
            page.refresh()

    def page(self, path: str) -> str:
        return self._pages[path].html

    def set_html(self, path: str, html: str) -> None:
        self._edit(path, html)

    def set_price(self, path: str, price: Decimal, old_price: Decimal | None = None) -> None:
        """Set the page's price; give `old_price` when the page shows it only as text."""
        self._edit(path, rewrite_price(self.page(path), price, old_price))

    def set_availability(self, path: str, availability: str) -> None:
        """'InStock', 'OutOfStock', 'PreOrder'… (or 'in_stock' / 'out_of_stock')."""
        self._edit(path, rewrite_availability(self.page(path), availability))

    def set_status(self, path: str, status: int | None) -> None:
        """Answer `status` (e.g. 503) instead of the page; None serves the page again."""
        with self._lock:
            self._pages[path].status = status

    def etag(self, path: str) -> str:
        return self._pages[path].etag

    # --- counting ----------------------------------------------------------------------
    def request_count(self, path: str) -> int:
        return self._counts[path]

    @property
    def total_requests(self) -> int:
        return sum(self._counts.values())

    def reset_counts(self) -> None:
        self._counts.clear()
        self.peak_in_flight = self.in_flight

    # --- serving -----------------------------------------------------------------------
    async def _answer(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self._counts[target] += 1
            page = self._pages.get(target) or self._pages.get(target.split("?", 1)[0])
            snapshot = (page.status, page.etag, page.body, page.content_type) if page else None
            self._visits += 1
            visit = self._visits
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        if snapshot is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        status, etag, body, content_type = snapshot
        if status is not None:
            return status, {"Content-Type": "text/plain"}, HTTPStatus(status).phrase.encode()
        extra = {"ETag": etag} if self.etags else {}
        if self.etags and headers.get("if-none-match") == etag:
            return 304, extra, b""
        if self.visit_tokens:
            body += f'\n<script>window.visitToken = "{visit:08x}";</script>'.encode()
        return 200, {"Content-Type": content_type, **extra}, b"" if method == "HEAD" else body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)
                status, response_headers, body = await self._answer(method, target, headers)
                keep_alive = headers.get("connection", "").lower() != "close"
                response_headers["Content-Length"] = str(len(body))
                response_headers["Connection"] = "keep-alive" if keep_alive else "close"
                phrase = HTTPStatus(status).phrase
                head_out = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(
                    f"{name}: {value}\r\n" for name, value in response_headers.items()
                )
                writer.write(head_out.encode("latin-1") + b"\r\n" + body)
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return  # the client went away, or the shop is stopping
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def start(self) -> Self:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._serve, self.host, self.port, limit=MAX_REQUEST_HEAD, backlog=1024
                    )
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as error:
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                self._server.close()
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.close()

        self._thread = threading.Thread(target=run, name=f"local-shop-{self.host}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
